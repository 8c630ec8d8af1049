package backbonev1

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
)

// TestGenerated regenerates the Go code into a temporary folder and fails
// when the committed files differ, so backbone.proto and its Go code never
// drift apart.
func TestGenerated(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		testenv.Missing(t, "protoc", "run `make setup` (apt-get install protobuf-compiler)")
	}
	gopath, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(string(bytes.TrimSpace(gopath)), "bin")
	for _, p := range []string{"protoc-gen-go", "protoc-gen-go-grpc"} {
		if _, err := exec.LookPath(p); err != nil {
			if _, err := os.Stat(filepath.Join(bin, p)); err != nil {
				testenv.Missing(t, p, "run `make setup` (go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12 google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2)")
			}
		}
	}
	dir := t.TempDir()
	if out, err := exec.Command("sh", "gen.sh", dir).CombinedOutput(); err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, out)
	}
	for _, f := range []string{"backbone.pb.go", "backbone_grpc.pb.go"} {
		want, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from what gen.sh generates from backbone.proto: run `make proto` (or sh internal/backbonev1/gen.sh) and commit the result", f)
		}
	}
}
