package onnx

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/gozoo/gozoo/internal/onnxpb"
)

// FuzzExternalLocation feeds arbitrary external-data locations to the
// resolver for a model in root/m, beside a data file, with a secret in
// root: whatever the location, either it is refused or the bytes read
// come from inside root/m.
func FuzzExternalLocation(f *testing.F) {
	for _, s := range []string{"w.bin", "../secret", "/etc/passwd", "link", "./w.bin", "a/../../secret", "w.bin/..", "", "..", "\\..\\secret", "sub/../w.bin"} {
		f.Add(s, int64(0), int64(-1))
	}
	root := f.TempDir()
	dir := filepath.Join(root, "m")
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		f.Fatal(err)
	}
	inside := bytes.Repeat([]byte("in"), 32)
	if err := os.WriteFile(filepath.Join(dir, "w.bin"), inside, 0o644); err != nil {
		f.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "secret"), bytes.Repeat([]byte("SE"), 32), 0o600); err != nil {
		f.Fatal(err)
	}
	if err := os.Symlink("../secret", filepath.Join(dir, "link")); err != nil {
		f.Fatal(err)
	}
	model := filepath.Join(dir, "model.onnx")
	f.Fuzz(func(t *testing.T, loc string, offset, length int64) {
		ext := []*onnxpb.StringStringEntryProto{{Key: "location", Value: loc}}
		if offset >= 0 {
			ext = append(ext, &onnxpb.StringStringEntryProto{Key: "offset", Value: strconv.FormatInt(offset, 10)})
		}
		if length >= 0 {
			ext = append(ext, &onnxpb.StringStringEntryProto{Key: "length", Value: strconv.FormatInt(length, 10)})
		}
		tensor := &onnxpb.TensorProto{Name: "w", DataLocation: onnxpb.TensorProto_EXTERNAL, ExternalData: ext}
		mp := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{Initializer: []*onnxpb.TensorProto{tensor}}}
		ok, err := inlineExternal(mp, model)
		if err != nil {
			return
		}
		if !ok || !bytes.Contains(inside, tensor.RawData) || bytes.Contains(tensor.RawData, []byte("S")) {
			t.Fatalf("location %q: inlined %q; want bytes of w.bin only", loc, tensor.RawData)
		}
	})
}
