package toyplugin

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
)

var (
	buildOnce sync.Once
	buildDir  string
	buildErr  error
)

// Build compiles gozoo-backbone-toy once per process into a temporary
// folder and returns the binary's path. Call Cleanup (from TestMain) to
// remove the folder.
func Build() (string, error) {
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "gozoo-toyplugin-")
		if buildErr != nil {
			return
		}
		out := filepath.Join(buildDir, "gozoo-backbone-toy")
		cmd := exec.Command("go", "build", "-o", out, "github.com/gozoo/gozoo/internal/toyplugin/gozoo-backbone-toy")
		if msg, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build gozoo-backbone-toy: %w\n%s", err, msg)
		}
	})
	if buildErr != nil {
		return "", buildErr
	}
	return filepath.Join(buildDir, "gozoo-backbone-toy"), nil
}

// Cleanup removes what Build made.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}
