package torch_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/gozoo/gozoo/plugins/torch"
)

// WriteManifest installs the plugin for another Python: the host then
// finds gozoo-backbone-torch.plugin in dir.
func ExampleWriteManifest() {
	dir, _ := os.MkdirTemp("", "plugins")
	defer os.RemoveAll(dir)
	path, err := torch.WriteManifest(dir, "/usr/bin/python3", torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "4"})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(filepath.Base(path))
	// Output: gozoo-backbone-torch.plugin
}
