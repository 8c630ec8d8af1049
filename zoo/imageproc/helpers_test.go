package imageproc_test

import "os/exec"

func testenvImportSkimage() (string, error) {
	out, err := exec.Command("/usr/bin/python3", "-c", "import skimage").CombinedOutput()
	return string(out), err
}
