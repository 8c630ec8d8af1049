// Package testenv finds the outside resources gozoo's tests use (Debian's
// PyTorch, the ONNX Runtime library) and skips a test with an install hint
// when one is missing on a developer's machine. CI sets GOZOO_REQUIRE_ALL=1,
// which turns every such skip into a failure, so a skipped test can never
// pass for a tested one there.
package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Missing skips t, or fails it when GOZOO_REQUIRE_ALL=1, saying which
// resource is absent and how to install it.
func Missing(t testing.TB, what, hint string) {
	t.Helper()
	if os.Getenv("GOZOO_REQUIRE_ALL") == "1" {
		t.Fatalf("%s is missing and GOZOO_REQUIRE_ALL=1: %s", what, hint)
	}
	t.Skipf("%s is missing: %s", what, hint)
}

var (
	pyOnce sync.Once
	pyPath string
	pyErr  string
)

// Python returns the path of a python3 that imports torch and
// torchvision, or skips t. GOZOO_PYTHON overrides the default
// /usr/bin/python3 (Debian's, which python3-torch installs into).
func Python(t testing.TB) string {
	t.Helper()
	pyOnce.Do(func() {
		p := os.Getenv("GOZOO_PYTHON")
		if p == "" {
			p = "/usr/bin/python3"
		}
		out, err := exec.Command(p, "-c", "import torch, torchvision, numpy").CombinedOutput()
		if err != nil {
			pyErr = strings.TrimSpace(string(out))
			if pyErr == "" {
				pyErr = err.Error()
			}
			return
		}
		pyPath = p
	})
	if pyPath == "" {
		Missing(t, "PyTorch", "run `make setup` (apt-get install python3-torch python3-torchvision python3-numpy) or set GOZOO_PYTHON; "+lastLine(pyErr))
	}
	return pyPath
}

// RunPython runs script (a path) with args under Python(t) and returns its
// stdout, failing t with stderr when it exits non-zero. The working
// directory is the script's folder.
func RunPython(t testing.TB, script string, args ...string) []byte {
	t.Helper()
	py := Python(t)
	abs, err := filepath.Abs(script)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, append([]string{abs}, args...)...)
	cmd.Dir = filepath.Dir(abs)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s", filepath.Base(script), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes()
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}
