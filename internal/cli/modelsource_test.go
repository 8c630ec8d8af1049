package cli

import (
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
	"google.golang.org/protobuf/proto"
)

// writeSeqONNX writes a one-node ONNX graph, y = Relu(x), whose input x
// is float32 [batch, T] with both dimensions symbolic.
func writeSeqONNX(t *testing.T, path string) {
	t.Helper()
	sym := func(name string) *onnxpb.TensorShapeProto_Dimension {
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: name}}
	}
	vi := func(name string) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: int32(onnxpb.TensorProto_FLOAT),
			Shape:    &onnxpb.TensorShapeProto{Dim: []*onnxpb.TensorShapeProto_Dimension{sym("batch"), sym("T")}},
		}}}}
	}
	mp := &onnxpb.ModelProto{
		IrVersion:   8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 17}},
		Graph: &onnxpb.GraphProto{
			Name:   "seq",
			Node:   []*onnxpb.NodeProto{{Name: "/act/Relu", OpType: "Relu", Input: []string{"x"}, Output: []string{"/act/Relu_output_0"}}, {Name: "/Identity", OpType: "Identity", Input: []string{"/act/Relu_output_0"}, Output: []string{"y"}}},
			Input:  []*onnxpb.ValueInfoProto{vi("x")},
			Output: []*onnxpb.ValueInfoProto{vi("y")},
		},
	}
	data, err := proto.Marshal(mp)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestLayersONNX lists an .onnx file's layers: the header shows the file's
// own input (the batch as N, other free dimensions as *), a free dimension besides the batch
// asks for --input-shape, and with it the layers come out for that shape.
func TestLayersONNX(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "onnx")
	dir := t.TempDir()
	t.Chdir(dir)
	writeSeqONNX(t, "seq.onnx") // a relative path, as a user types it
	_, _, err := execute(t, &Factory{}, "--plugin-path", plugins, "layers", "--onnx", "seq.onnx")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "give --input-shape, e.g. N,16") || !strings.Contains(err.Error(), "x float32[N, *]") {
		t.Errorf("layers --onnx seq.onnx = %v; want a usage error asking for --input-shape", err)
	}
	out, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "layers", "--onnx", "seq.onnx", "--input-shape", "N,7")
	if err != nil {
		t.Fatalf("layers --onnx seq.onnx --input-shape N,7: %v\n%s", err, stderr)
	}
	for _, w := range []string{"seq.onnx (plugin onnx", "input x float32[N, *], listed for [N, 7]", "act ", "[N, 7]"} {
		if !strings.Contains(out, w) {
			t.Errorf("layers output lacks %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "224") {
		t.Errorf("layers shows the plugin's placeholder input, not the file's:\n%s", out)
	}
	out, _, err = execute(t, &Factory{}, "--plugin-path", plugins, "params", "--onnx", "seq.onnx")
	if err != nil || !strings.Contains(out, "0 tensors, 0 parameters") {
		t.Errorf("params --onnx seq.onnx = %v\n%s", err, out)
	}
}

// TestLayersParamsModel lists the embedded catalog model's layers and
// parameters by name: its options (10 classes, width 8) and weights are
// the catalog's, and printed.
func TestLayersParamsModel(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	t.Setenv("GOZOO_CACHE", t.TempDir()) // the embedded model unpacks offline
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	out, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "layers", "--model", zoo.DefaultModel, "--input-size", "32")
	if err != nil {
		t.Fatalf("layers --model: %v\n%s", err, stderr)
	}
	for _, w := range []string{"model " + zoo.DefaultModel + ": arch resnet18", "num_classes=10", "width=8", "layer4.1.conv2", "[N, 64, 1, 1]", "fc  ", "[N, 10]"} {
		if !strings.Contains(out, w) {
			t.Errorf("layers --model output lacks %q:\n%s", w, out)
		}
	}
	out, stderr, err = execute(t, &Factory{}, "--plugin-path", plugins, "params", "--model", zoo.DefaultModel, "--freeze", "*", "--unfreeze", "fc.*")
	if err != nil {
		t.Fatalf("params --model: %v\n%s", err, stderr)
	}
	// fc of the width-8 resnet18 with 10 classes: 64*10 + 10.
	for _, w := range []string{"model " + zoo.DefaultModel, "fc.weight", "[10, 64]", "650 trainable"} {
		if !strings.Contains(out, w) {
			t.Errorf("params --model output lacks %q:\n%s", w, out)
		}
	}
	for _, args := range [][]string{
		{"layers"},
		{"layers", "resnet18", "--model", zoo.DefaultModel},
		{"params", "--model", zoo.DefaultModel, "--onnx", "x.onnx"},
		{"params", "--model", zoo.DefaultModel, "--weights", "w.pth"},
	} {
		if _, _, err := execute(t, &Factory{}, append([]string{"--plugin-path", plugins}, args...)...); !errors.Is(err, errUsage) {
			t.Errorf("gozoo %s = %v; want a usage error", strings.Join(args, " "), err)
		}
	}
	if _, _, err := execute(t, &Factory{}, "--plugin-path", plugins, "layers", "--model", "resnet18_w8.gozoo_fmnst"); err == nil ||
		!strings.Contains(err.Error(), zoo.DefaultModel) {
		t.Errorf("layers --model with a typo = %v; want an error suggesting %s", err, zoo.DefaultModel)
	}
}
