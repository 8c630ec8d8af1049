package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestConformance runs gozoo's conformance suite against the built
// plugin binary, started through gozoo's host as gozoo starts it.
func TestConformance(t *testing.T) {
	needORT(t)
	bb := sdktest.Start(t, pluginBinary(t))
	sdktest.Run(t, bb, sdktest.WithInputShape(-1, 3, 24, 20),
		sdktest.WithLoadOptions(map[string]string{"width": "8", "num_classes": "5"}),
		sdktest.WithLayers("features.0.conv", "features.1", "avgpool", "fc"))
}

// needORT skips t (fails it under GOZOO_REQUIRE_ALL=1) without the ONNX
// Runtime library.
func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); errors.Is(err, ort.ErrLibraryNotFound) {
		sdktest.Missing(t, "the ONNX Runtime library", err.Error())
	} else if err != nil {
		t.Fatal(err)
	}
}

var (
	tmp   string // removed by TestMain
	mu    sync.Mutex
	built = map[string]error{}
)

func TestMain(m *testing.M) {
	var err error
	if tmp, err = os.MkdirTemp("", "gozoo-tinycnn-test-"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(tmp)
	os.Exit(code)
}

// pluginBinary returns gozoo-backbone-tinycnn, built from this folder.
func pluginBinary(t *testing.T) string {
	return goBuild(t, ".", ".", "plugins", "gozoo-backbone-tinycnn")
}

// goBuild runs `go build -o tmp/sub/name pkg` in dir once per test run
// and returns the binary's path.
func goBuild(t *testing.T, dir, pkg, sub, name string) string {
	t.Helper()
	mu.Lock()
	defer mu.Unlock()
	out := filepath.Join(tmp, sub, name)
	err, done := built[out]
	if !done {
		cmd := exec.Command("go", "build", "-o", out, pkg)
		cmd.Dir = dir
		if b, e := cmd.CombinedOutput(); e != nil {
			err = fmt.Errorf("go build %s in %s: %v\n%s", pkg, dir, e, b)
		}
		built[out] = err
	}
	if err != nil {
		t.Fatal(err)
	}
	return out
}
