package ort

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	onnxruntime "github.com/yalue/onnxruntime_go"
)

// Version facts of the ONNX Runtime library this package is built for.
const (
	// WantVersion is the ONNX Runtime release scripts/install-onnxruntime.sh
	// installs.
	WantVersion = "1.24.1"
	// MinVersion is the oldest ONNX Runtime release whose C API this package
	// can use; newer releases work too.
	MinVersion = "1.24.0"
	// apiVersion is the ORT C API version onnxruntime_go v1.27.0 asks for.
	apiVersion = 24
)

var (
	// ErrLibraryNotFound means the ONNX Runtime shared library is not where
	// LibraryPath says.
	ErrLibraryNotFound = errors.New("ort: onnxruntime library not found")
	// ErrLibraryVersion means the library loads but is older than
	// MinVersion, or is not an ONNX Runtime library at all.
	ErrLibraryVersion = errors.New("ort: unusable onnxruntime library")
)

// LibraryPath returns the ONNX Runtime shared library this package loads:
// $GOZOO_ORT_LIB when set, else the file scripts/install-onnxruntime.sh
// writes, ${GOZOO_CACHE:-$HOME/.cache/gozoo}/onnxruntime/1.24.1/libonnxruntime.so.1.
func LibraryPath() string {
	if p := os.Getenv("GOZOO_ORT_LIB"); p != "" {
		return p
	}
	return filepath.Join(cacheDir(), "onnxruntime", WantVersion, "libonnxruntime.so.1")
}

func cacheDir() string {
	if d := os.Getenv("GOZOO_CACHE"); d != "" {
		return d
	}
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return filepath.Join(os.TempDir(), "gozoo-cache")
	}
	return filepath.Join(home, ".cache", "gozoo")
}

var (
	initOnce    sync.Once
	initErr     error
	initPath    string
	initVersion string
)

// initialize loads the library and creates the process-wide ONNX Runtime
// environment, once. Every later call returns the first call's result: the
// library cannot be swapped inside a running process.
func initialize() error {
	initOnce.Do(func() {
		initPath = LibraryPath()
		initVersion, initErr = load(initPath)
	})
	return initErr
}

func load(path string) (string, error) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("%w at %s: run make setup (scripts/install-onnxruntime.sh) or set GOZOO_ORT_LIB", ErrLibraryNotFound, path)
	}
	status, version, msg := probeLibrary(path, apiVersion)
	switch status {
	case probeOpenFailed:
		return "", fmt.Errorf("%w: cannot load %s: %s: set GOZOO_ORT_LIB to a linux/%s libonnxruntime.so (ONNX Runtime >= %s) or run make setup", ErrLibraryVersion, path, msg, runtime.GOARCH, MinVersion)
	case probeNotORT:
		return "", fmt.Errorf("%w: %s is not an ONNX Runtime library (%s): set GOZOO_ORT_LIB to libonnxruntime.so >= %s or run make setup", ErrLibraryVersion, path, msg, MinVersion)
	case probeTooOld:
		return "", fmt.Errorf("%w: %s is ONNX Runtime %s, which lacks C API version %d; gozoo needs ONNX Runtime >= %s (%s recommended): run make setup or point GOZOO_ORT_LIB at a newer library", ErrLibraryVersion, path, version, apiVersion, MinVersion, WantVersion)
	}
	onnxruntime.SetSharedLibraryPath(path)
	if err := onnxruntime.InitializeEnvironment(); err != nil {
		return "", fmt.Errorf("ort: initialize ONNX Runtime %s from %s: %w", version, path, err)
	}
	return version, nil
}

// Version loads the library if needed and returns its version string, such
// as "1.24.1". The error wraps ErrLibraryNotFound or ErrLibraryVersion when
// the library is missing or unusable.
func Version() (string, error) {
	if err := initialize(); err != nil {
		return "", err
	}
	return initVersion, nil
}
