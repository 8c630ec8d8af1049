package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gozoo/gozoo/sdk/host"
)

// TestManifestSources: a manifest plugin's cached Describe answer is
// asked again when a file under its "sources" changes, and not when only
// bytecode caches do.
func TestManifestSources(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	man := fmt.Sprintf(`{"command": [%q], "sources": ["pkg"]}`, toyBin)
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-src.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	write := func(rel, content string) {
		t.Helper()
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("pkg/__init__.py", "")
	write("pkg/server.py", "x = 1\n")
	starts := func() int {
		t.Helper()
		c, err := host.New(host.WithPluginPath(dir), host.WithCacheDir(cache))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Describe(context.Background(), "src"); err != nil {
			t.Fatalf("Describe(src) = %v", err)
		}
		return c.Starts()
	}
	steps := []struct {
		what   string
		change func()
		want   int
	}{
		{"first", func() {}, 1},
		{"unchanged", func() {}, 0},
		{"touched", func() {
			later := time.Now().Add(time.Hour)
			if err := os.Chtimes(filepath.Join(dir, "pkg/server.py"), later, later); err != nil {
				t.Fatal(err)
			}
		}, 1},
		{"unchanged again", func() {}, 0},
		{"edited", func() { write("pkg/server.py", "x = 2 # a longer line\n") }, 1},
		{"file added", func() { write("pkg/sub/extra.py", "y = 1\n") }, 1},
		{"bytecode written", func() { write("pkg/__pycache__/server.cpython-311.pyc", "bytes") }, 0},
		{"file outside the sources", func() { write("notes.txt", "n") }, 0},
		{"file removed", func() { os.Remove(filepath.Join(dir, "pkg/sub/extra.py")) }, 1},
	}
	for _, s := range steps {
		s.change()
		if got := starts(); got != s.want {
			t.Errorf("%s: Describe started %d plugin processes; want %d", s.what, got, s.want)
		}
	}
}

// TestManifestSourcesConfined: a source that leaves the manifest's folder
// through a symbolic link is refused when the plugin starts.
func TestManifestSourcesConfined(t *testing.T) {
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "pkg")); err != nil {
		t.Fatal(err)
	}
	man := fmt.Sprintf(`{"command": [%q], "sources": ["pkg"]}`, toyBin)
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-esc.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := host.New(host.WithPluginPath(dir), host.WithCacheDir(t.TempDir()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Describe(context.Background(), "esc")
	if err == nil || !strings.Contains(err.Error(), "leaves the manifest's folder") {
		t.Errorf("Describe(esc) = %v; want the escaping source refused", err)
	}
	if c.Starts() != 0 {
		t.Errorf("a manifest with an escaping source started %d processes", c.Starts())
	}
}

// TestTorchManifestSources: the torch plugin's manifest names its Python
// package as its sources.
func TestTorchManifestSources(t *testing.T) {
	p := filepath.Join("..", "..", "plugins", "torch", "gozoo-backbone-torch.plugin")
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	m, err := host.ParseManifest(data)
	if err != nil {
		t.Fatalf("ParseManifest(%s) = %v", p, err)
	}
	if len(m.Sources) != 1 || m.Sources[0] != "gozoo_torch" {
		t.Fatalf("%s sources = %q; want [gozoo_torch]", p, m.Sources)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(p), m.Sources[0], "__init__.py")); err != nil {
		t.Errorf("the torch manifest's source is not the package: %v", err)
	}
}
