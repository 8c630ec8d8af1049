package torch

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/gozoo/gozoo/plugins/python"
)

// ManifestName is the file name under which the host finds the plugin.
const ManifestName = "gozoo-backbone-torch.plugin"

// Dir returns the folder holding the gozoo_torch package in this source
// tree.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// WriteManifest writes dir/gozoo-backbone-torch.plugin, which starts the
// gozoo_torch package found in pkgDir with the Python at py (a full
// path), importing gozoo_plugin from pkgDir when it is there (as make
// build installs them) and from this source tree otherwise. env adds
// environment variables for the plugin process (for example
// GOZOO_TORCH_THREADS). It returns the manifest's path.
func WriteManifest(dir, py, pkgDir string, env map[string]string) (string, error) {
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(abs, "gozoo_torch", "__init__.py")); err != nil {
		return "", fmt.Errorf("torch: %s holds no gozoo_torch package: pass the folder that holds it", abs)
	}
	path := abs
	if _, err := os.Stat(filepath.Join(abs, python.Package, "__init__.py")); err != nil {
		path += string(os.PathListSeparator) + python.Dir()
	}
	e := map[string]string{"PYTHONPATH": path, "PYTHONDONTWRITEBYTECODE": "1"}
	for k, v := range env {
		e[k] = v
	}
	data, err := json.Marshal(struct {
		Command []string          `json:"command"`
		Env     map[string]string `json:"env"`
	}{[]string{py, "-m", "gozoo_torch"}, e})
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, ManifestName)
	if err := os.WriteFile(p, append(data, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("torch: write manifest: %w", err)
	}
	return p, nil
}
