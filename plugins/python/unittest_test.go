package python_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/python"
)

// TestUnittest runs gozoo_plugin's Python unit tests (tests/, unittest
// from the standard library).
func TestUnittest(t *testing.T) {
	cmd := exec.Command(testenv.Python(t), "-m", "unittest", "discover", "-s", "tests", "-v")
	cmd.Dir = python.Dir()
	cmd.Env = append(os.Environ(), "PYTHONDONTWRITEBYTECODE=1", "PYTHONPATH="+python.Dir())
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("python3 -m unittest: %v", err)
	}
	if !strings.Contains(string(out), "\nOK") {
		t.Errorf("python3 -m unittest did not end with OK")
	}
}

// TestInstall lays out a plugin as make build does: the manifest with its
// program replaced, its sources, and gozoo_plugin beside them.
func TestInstall(t *testing.T) {
	src := t.TempDir()
	for name, data := range map[string]string{
		"gozoo-backbone-x.plugin": `{"command": ["/usr/bin/python3", "-m", "x"], "sources": ["x.py", "pkg", "gozoo_plugin"]}`,
		"x.py":                    "print(1)\n",
		"pkg/__init__.py":         "\n",
		"pkg/__pycache__/a.pyc":   "stale",
		"other.txt":               "not a source\n",
	} {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dst := t.TempDir()
	p, err := python.Install(dst, filepath.Join(src, "gozoo-backbone-x.plugin"), "/opt/py/bin/python3")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), `"/opt/py/bin/python3"`) || strings.Contains(string(data), "/usr/bin/python3") {
		t.Errorf("installed manifest %s; want the program replaced", data)
	}
	for name, want := range map[string]bool{
		"x.py": true, "pkg/__init__.py": true, "gozoo_plugin/__init__.py": true, "gozoo_plugin/pb/backbone_pb2.py": true,
		"pkg/__pycache__": false, "other.txt": false,
	} {
		if _, err := os.Stat(filepath.Join(dst, name)); (err == nil) != want {
			t.Errorf("installed %s: exists = %v; want %v", name, err == nil, want)
		}
	}
	if _, err := python.Install(t.TempDir(), filepath.Join(src, "missing.plugin"), ""); err == nil {
		t.Errorf("Install(missing manifest) = nil; want an error")
	}
}
