package onnxpb

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"google.golang.org/protobuf/proto"
)

// TestGenerated regenerates onnx.pb.go and compares it with the committed
// file.
func TestGenerated(t *testing.T) {
	if _, err := exec.LookPath("protoc"); err != nil {
		testenv.Missing(t, "protoc", "apt-get install protobuf-compiler")
	}
	gobin := filepath.Join(goEnv(t, "GOPATH"), "bin", "protoc-gen-go")
	if _, err := os.Stat(gobin); err != nil {
		if _, err := exec.LookPath("protoc-gen-go"); err != nil {
			testenv.Missing(t, "protoc-gen-go", "go install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12")
		}
	}
	dir := t.TempDir()
	out, err := exec.Command("./gen.sh", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("gen.sh: %v\n%s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "onnx.pb.go"))
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("onnx.pb.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("onnx.pb.go is stale: run internal/onnxpb/gen.sh and commit the result")
	}
}

func goEnv(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return string(bytes.TrimSpace(out))
}

var (
	blockRE = regexp.MustCompile(`^\s*(message|enum|oneof)\s+(\w+)`)
	fieldRE = regexp.MustCompile(`^\s*(?:optional\s+|repeated\s+)?[\w.]+\s+(\w+)\s*=\s*(\d+)`)
)

// fields maps "Message.field" to its field number in a .proto file.
func fields(t *testing.T, path string) map[string]string {
	t.Helper()
	src, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	type block struct{ kind, name string }
	out := map[string]string{}
	var stack []block
	for _, line := range strings.Split(string(src), "\n") {
		if i := strings.Index(line, "//"); i >= 0 {
			line = line[:i]
		}
		var pending block
		if m := blockRE.FindStringSubmatch(line); m != nil {
			pending = block{m[1], m[2]}
		} else if m := fieldRE.FindStringSubmatch(line); m != nil {
			// The field belongs to the innermost message, unless it is
			// an enum value.
			for i := len(stack) - 1; i >= 0; i-- {
				if stack[i].kind == "enum" {
					break
				}
				if stack[i].kind == "message" {
					out[stack[i].name+"."+m[1]] = m[2]
					break
				}
			}
		}
		for _, c := range line {
			switch c {
			case '{':
				stack = append(stack, pending)
				pending = block{}
			case '}':
				if len(stack) > 0 {
					stack = stack[:len(stack)-1]
				}
			}
		}
	}
	return out
}

// TestFieldNumbers checks every field of onnx.proto against upstream's
// onnx.proto as python3-onnx installs it.
func TestFieldNumbers(t *testing.T) {
	upstream := "/usr/lib/python3/dist-packages/onnx/onnx.proto"
	if _, err := os.Stat(upstream); err != nil {
		testenv.Missing(t, "upstream onnx.proto", "apt-get install python3-onnx")
	}
	ours := fields(t, "onnx.proto")
	theirs := fields(t, upstream)
	if len(ours) < 60 {
		t.Fatalf("parsed only %d fields from onnx.proto", len(ours))
	}
	for name, num := range ours {
		if theirs[name] != num {
			t.Errorf("field %s = %s; upstream has %q", name, num, theirs[name])
		}
	}
}

// TestRoundTrip marshals a tiny model and reads it back.
func TestRoundTrip(t *testing.T) {
	m := &ModelProto{
		IrVersion:   8,
		OpsetImport: []*OperatorSetIdProto{{Version: 17}},
		Graph: &GraphProto{
			Name: "g",
			Node: []*NodeProto{{OpType: "Relu", Input: []string{"x"}, Output: []string{"y"}}},
			Initializer: []*TensorProto{{
				Name: "w", Dims: []int64{2}, DataType: int32(TensorProto_FLOAT), RawData: []byte{0, 0, 128, 63, 0, 0, 0, 64},
			}},
		},
	}
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	var got ModelProto
	if err := proto.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(m, &got) {
		t.Errorf("round trip = %v; want %v", &got, m)
	}
}
