package python_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/python"
)

// TestGenerated regenerates the Python stubs into a temporary folder and
// fails when the committed ones differ, so backbone.proto and the Python
// plugins never drift apart.
func TestGenerated(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		testenv.Missing(t, "protoc", "run `make setup` (apt-get install protobuf-compiler)")
	}
	py := testenv.Python(t)
	if err := exec.Command(py, "-c", "import grpc_tools.protoc").Run(); err != nil {
		testenv.Missing(t, "grpc_tools", "run `make setup` (apt-get install python3-grpc-tools)")
	}
	dir := t.TempDir()
	cmd := exec.Command("sh", filepath.Join(python.Dir(), "gen.sh"), dir)
	cmd.Env = append(os.Environ(), "PYTHON="+py)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, out)
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.py"))
	if err != nil || len(files) < 7 {
		t.Fatalf("gen.sh wrote %v (err %v); want the seven stub modules", files, err)
	}
	for _, f := range files {
		want, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(python.Dir(), "gozoo_plugin", "pb", filepath.Base(f)))
		if err != nil {
			t.Errorf("%s: %v: run `make proto` (or sh plugins/python/gen.sh) and commit the result", filepath.Base(f), err)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("gozoo_plugin/pb/%s differs from what gen.sh generates: run `make proto` (or sh plugins/python/gen.sh) and commit the result", filepath.Base(f))
		}
	}
}
