package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	buildMu   sync.Mutex
	buildDir  string
	buildDone = map[string]error{}
)

// BuildPlugin compiles the first-party plugin plugins/<name> once per test
// process and returns the folder holding gozoo-backbone-<name>, ready for
// host.WithPluginPath. Call Cleanup from TestMain to remove the folder.
func BuildPlugin(t testing.TB, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir == "" {
		d, err := os.MkdirTemp("", "gozoo-test-plugins-")
		if err != nil {
			t.Fatal(err)
		}
		buildDir = d
	}
	err, done := buildDone[name]
	if !done {
		pkg := fmt.Sprintf("github.com/gozoo/gozoo/plugins/%s/cmd/gozoo-backbone-%s", name, name)
		cmd := exec.Command("go", "build", "-o", filepath.Join(buildDir, "gozoo-backbone-"+name), pkg)
		if out, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("go build %s: %v\n%s", pkg, berr, out)
		}
		buildDone[name] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return buildDir
}

// Cleanup removes what BuildPlugin made, and runs the functions given to
// AtCleanup.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if buildDir != "" {
		os.RemoveAll(buildDir)
		buildDir = ""
		buildDone = map[string]error{}
	}
	for _, f := range atCleanup {
		f()
	}
	atCleanup = nil
}

var atCleanup []func()

// AtCleanup registers f to run in Cleanup, for a test helper that builds
// something once per test process in a package whose TestMain calls
// Cleanup.
func AtCleanup(f func()) {
	buildMu.Lock()
	defer buildMu.Unlock()
	atCleanup = append(atCleanup, f)
}

// ORT skips (or, under GOZOO_REQUIRE_ALL=1, fails) t when the ONNX Runtime
// library is not at path; pass ort.LibraryPath().
func ORT(t testing.TB, path string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		Missing(t, "the ONNX Runtime library", fmt.Sprintf("%s: run `make setup` (scripts/install-onnxruntime.sh) or set GOZOO_ORT_LIB", path))
	}
}
