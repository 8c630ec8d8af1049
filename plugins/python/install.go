package python

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/gozoo/gozoo/sdk/host"
)

// Package is the name of the Python package plugins import.
const Package = "gozoo_plugin"

// Dir returns the folder holding the gozoo_plugin package in this source
// tree (or module cache).
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}

// Install lays out the plugin whose manifest is at manifest in the folder
// dir, as `make build` lays out bin/plugins: the manifest, the files and
// folders its sources name (copied from the manifest's folder), and the
// gozoo_plugin package of this tree beside them, so that the plugin's
// `python3 -m` finds it. A source named gozoo_plugin is that package, not
// a copy from the manifest's folder. A non-empty python replaces the
// manifest's program (its command's first word). It returns the installed
// manifest's path; host.WithPluginPath(dir) then finds the plugin.
func Install(dir, manifest, python string) (string, error) {
	data, err := os.ReadFile(manifest)
	if err != nil {
		return "", fmt.Errorf("python: install: %w", err)
	}
	m, err := host.ParseManifest(data)
	if err != nil {
		return "", fmt.Errorf("python: install %s: %w", manifest, err)
	}
	if python != "" {
		m.Command[0] = python
	}
	if err := copyTree(filepath.Join(Dir(), Package), filepath.Join(dir, Package)); err != nil {
		return "", fmt.Errorf("python: install %s: %w", Package, err)
	}
	for _, src := range m.Sources {
		if src == Package {
			continue
		}
		if err := copyTree(filepath.Join(filepath.Dir(manifest), src), filepath.Join(dir, src)); err != nil {
			return "", fmt.Errorf("python: install %s: source %s: %w", manifest, src, err)
		}
	}
	out, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return "", err
	}
	p := filepath.Join(dir, filepath.Base(manifest))
	if err := os.WriteFile(p, append(out, '\n'), 0o644); err != nil {
		return "", fmt.Errorf("python: install: %w", err)
	}
	return p, nil
}

// copyTree copies the file or folder src to dst, leaving out Python's
// byte-code caches.
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Name() == "__pycache__" || strings.HasSuffix(d.Name(), ".pyc") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
