package python_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gozoo/gozoo/plugins/python"
)

// Install lays out the example plugin as make build lays out
// bin/plugins; host.WithPluginPath(dir) then finds it.
func ExampleInstall() {
	dir, _ := os.MkdirTemp("", "plugins")
	defer os.RemoveAll(dir)
	manifest := filepath.Join(python.Dir(), "..", "..", "examples", "plugin-python", "gozoo-backbone-mlp.plugin")
	if _, err := python.Install(dir, manifest, "/usr/bin/python3"); err != nil {
		fmt.Println(err)
		return
	}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		fmt.Println(e.Name())
	}
	// Output:
	// gozoo-backbone-mlp.plugin
	// gozoo_plugin
	// mlp.py
}
