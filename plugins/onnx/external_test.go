package onnx_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/onnx"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"google.golang.org/protobuf/proto"
)

// externalModel makes testdata's external-data model in root/a/b (with
// weights.bin beside it) and a secret file in root/x, and returns the
// model's folder, its parsed proto and the input and output numpy
// computed.
func externalModel(t *testing.T) (string, *onnxpb.ModelProto, map[string]*sdk.Tensor) {
	t.Helper()
	testenv.ORT(t, ort.LibraryPath())
	root := t.TempDir()
	dir := filepath.Join(root, "a", "b")
	for _, d := range []string{dir, filepath.Join(root, "x")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	testenv.RunPython(t, "testdata/make_external.py", dir)
	// The secret holds as many bytes as weights.bin, so that only the
	// location check can stop it being read as the weights.
	secret := strings.Repeat("SECRET", 10)
	if err := os.WriteFile(filepath.Join(root, "x", "secret"), []byte(secret), 0o600); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "external.onnx"))
	if err != nil {
		t.Fatal(err)
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		t.Fatal(err)
	}
	io, _, err := npy.ReadNPZ(filepath.Join(dir, "external_io.npz"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, mp, io
}

// setLocation points tensor's external data at loc.
func setLocation(t *testing.T, tensor *onnxpb.TensorProto, loc string) {
	t.Helper()
	if tensor.DataLocation != onnxpb.TensorProto_EXTERNAL {
		// Make an inline tensor (the Constant's) external, at offset 0.
		n := int64(len(tensor.GetRawData()))
		if n == 0 {
			n = int64(len(tensor.GetFloatData()) * 4)
		}
		tensor.RawData, tensor.FloatData = nil, nil
		tensor.DataLocation = onnxpb.TensorProto_EXTERNAL
		tensor.ExternalData = []*onnxpb.StringStringEntryProto{{Key: "location"}, {Key: "offset", Value: "0"}, {Key: "length", Value: strconv.FormatInt(n, 10)}}
	}
	for _, e := range tensor.ExternalData {
		if e.Key == "location" {
			e.Value = loc
			return
		}
	}
	t.Fatalf("tensor %s has no location", tensor.GetName())
}

// TestExternalDataLoads checks that a model whose weights are ONNX
// external data beside it loads, from another working folder, and
// computes numpy's output.
func TestExternalDataLoads(t *testing.T) {
	dir, _, io := externalModel(t)
	t.Chdir(t.TempDir())
	ctx := context.Background()
	m, err := onnx.New().Load(ctx, &sdk.LoadRequest{Arch: onnx.Arch, WeightsPath: filepath.Join(dir, "external.onnx")})
	if err != nil {
		t.Fatalf("Load(external.onnx) = %v; want it loaded with weights.bin", err)
	}
	defer m.Close()
	got, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"Y"}, Input: io["X"]})
	if err != nil {
		t.Fatal(err)
	}
	y := got.Outputs["Y"]
	if y == nil || !sdk.EqualShape(y.Shape, io["Y"].Shape) {
		t.Fatalf("Extract(Y) = %v; want shape %v", y, io["Y"].Shape)
	}
	for i, w := range io["Y"].Float32 {
		if d := math.Abs(float64(y.Float32[i] - w)); d > 1e-5 {
			t.Fatalf("Y[%d] = %g; want %g (numpy)", i, y.Float32[i], w)
		}
	}
}

// TestExternalDataConfined points external data outside the model's
// folder in every way (a ".." path, an absolute path, a symbolic link to
// a file or a folder outside, a FIFO, a tensor inside a node attribute)
// and checks that each is refused with an error naming the location,
// before any byte of the secret is read.
func TestExternalDataConfined(t *testing.T) {
	dir, base, _ := externalModel(t)
	root := filepath.Dir(filepath.Dir(dir))
	secret := filepath.Join(root, "x", "secret")
	if err := os.Symlink(secret, filepath.Join(dir, "link.bin")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "x"), filepath.Join(dir, "sub")); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "fifo.bin"), 0o600); err != nil {
		t.Fatal(err)
	}
	initializer := func(mp *onnxpb.ModelProto) *onnxpb.TensorProto { return mp.Graph.Initializer[0] }
	attribute := func(mp *onnxpb.ModelProto) *onnxpb.TensorProto { return mp.Graph.Node[0].Attribute[0].T }
	for _, tc := range []struct {
		name, loc string
		tensor    func(*onnxpb.ModelProto) *onnxpb.TensorProto
		reason    string
	}{
		{"dotdot", "../../x/secret", initializer, `".." component`},
		{"dotdot inside", "c/../../../x/secret", initializer, `".." component`},
		{"absolute", secret, initializer, "absolute path"},
		{"symlink to a file", "link.bin", initializer, "outside the model's folder"},
		{"symlink to a folder", "sub/secret", initializer, "outside the model's folder"},
		{"fifo", "fifo.bin", initializer, "not a regular file"},
		{"missing", "nothing.bin", initializer, "names no file"},
		{"attribute tensor", "../../x/secret", attribute, `".." component`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mp := proto.Clone(base).(*onnxpb.ModelProto)
			setLocation(t, tc.tensor(mp), tc.loc)
			data, err := proto.Marshal(mp)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".onnx")
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			m, err := onnx.New().Load(context.Background(), &sdk.LoadRequest{Arch: onnx.Arch, WeightsPath: path})
			if err == nil {
				m.Close()
				t.Fatalf("Load with external data at %q succeeded; want it refused", tc.loc)
			}
			var xe *onnx.ExternalDataError
			if !errors.As(err, &xe) || !errors.Is(err, sdk.ErrWeights) {
				t.Fatalf("Load = %v; want an *onnx.ExternalDataError (sdk.ErrWeights)", err)
			}
			if xe.Location != tc.loc || !strings.Contains(err.Error(), tc.loc) || !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Load = %q; want it to name location %q and say %q", err, tc.loc, tc.reason)
			}
		})
	}
}
