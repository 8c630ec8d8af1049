package nn_test

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
	"google.golang.org/protobuf/proto"
)

// testNet mirrors Net in testdata/modules.py.
func testNet(h, w int64) *nn.Builder {
	b := nn.NewBuilder("Net")
	x := b.Input("input", []int64{-1, 3, h, w}, 2, 3)
	y := b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: 8, Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(2), Dilation: nn.P(2), Bias: true})
	y = b.Conv2d("gconv", y, nn.Conv2d{In: 8, Out: 8, Kernel: nn.Pair{1, 3}, Padding: nn.Pair{0, 1}, Groups: 4})
	y = b.BatchNorm2d("bn", y, 8)
	y = b.ReLU("relu", y)
	a := b.Sigmoid("sig", b.MaxPool2d("mp", y, nn.Pool{Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1), CeilMode: true}))
	c := b.Tanh("tanh", b.AvgPool2d("ap", y, nn.Pool{Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1), CeilMode: true}))
	cat := b.Concat("", 1, a, c)
	b.AvgPool2d("ap2", cat, nn.Pool{Kernel: nn.P(2), CountIncludePad: true})
	d := b.AdaptiveAvgPool2d("aap", b.ReLU("relu", cat), nn.P(2))
	b.Linear("fc", b.Dropout("drop", b.Flatten("flat", d)), 64, 5, true)
	return b
}

func TestLayers(t *testing.T) {
	b := testNet(21, 27)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	want := []sdk.Layer{
		{Name: "conv", Kind: "Conv2d", Shape: []int64{-1, 8, 11, 14}, Params: 8*3*9 + 8},
		{Name: "gconv", Kind: "Conv2d", Shape: []int64{-1, 8, 11, 14}, Params: 8 * 2 * 3},
		{Name: "bn", Kind: "BatchNorm2d", Shape: []int64{-1, 8, 11, 14}, Params: 16},
		// relu is called twice; the layer is the last call.
		{Name: "relu", Kind: "ReLU", Shape: []int64{-1, 16, 6, 8}},
		{Name: "mp", Kind: "MaxPool2d", Shape: []int64{-1, 8, 6, 8}},
		{Name: "sig", Kind: "Sigmoid", Shape: []int64{-1, 8, 6, 8}},
		{Name: "ap", Kind: "AvgPool2d", Shape: []int64{-1, 8, 6, 8}},
		{Name: "tanh", Kind: "Tanh", Shape: []int64{-1, 8, 6, 8}},
		{Name: "ap2", Kind: "AvgPool2d", Shape: []int64{-1, 16, 3, 4}},
		{Name: "aap", Kind: "AdaptiveAvgPool2d", Shape: []int64{-1, 16, 2, 2}},
		{Name: "flat", Kind: "Flatten", Shape: []int64{-1, 64}},
		{Name: "drop", Kind: "Dropout", Shape: []int64{-1, 64}},
		{Name: "fc", Kind: "Linear", Shape: []int64{-1, 5}, Params: 64*5 + 5},
	}
	got := b.Layers()
	if len(got) != len(want) {
		t.Fatalf("Layers() = %d layers; want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.Name != w.Name || g.Kind != w.Kind || !sdk.EqualShape(g.Shape, w.Shape) || g.Params != w.Params {
			t.Errorf("Layers()[%d] = %+v; want %+v", i, g, w)
		}
	}
	var names []string
	for _, s := range b.Specs() {
		names = append(names, s.Name)
	}
	wantNames := "conv.weight conv.bias gconv.weight bn.weight bn.bias bn.running_mean bn.running_var bn.num_batches_tracked fc.weight fc.bias"
	if strings.Join(names, " ") != wantNames {
		t.Errorf("Specs() = %v; want %s", names, wantNames)
	}
}

func TestContainers(t *testing.T) {
	b := nn.NewBuilder("Root")
	x := b.Input("input", []int64{-1, 4, 8, 8})
	y := b.Module("block", "Block", func() nn.Value {
		h := b.ReLU("act", b.Conv2d("conv", x, nn.Conv2d{In: 4, Out: 4, Kernel: nn.P(3), Padding: nn.P(1)}))
		return b.ReLU("act", b.Add("", h, x))
	})
	b.Sequential("seq", y,
		func(name string, v nn.Value) nn.Value { return b.Identity(name, v) },
		func(name string, v nn.Value) nn.Value { return b.ReLU(name, v) },
	)
	var got []string
	for _, l := range b.Layers() {
		got = append(got, l.Name+":"+l.Kind)
	}
	want := "block:Block block.conv:Conv2d block.act:ReLU seq:Sequential seq.0:Identity seq.1:ReLU"
	if strings.Join(got, " ") != want {
		t.Errorf("Layers() = %v; want %s", got, want)
	}
	if l, _ := b.Layer("block"); l.Params != 4*4*9 {
		t.Errorf("block params = %d; want %d", l.Params, 4*4*9)
	}
	w := nn.RandomWeights(b.Specs(), 1)
	for _, tc := range []struct {
		outputs []string
		nodes   []string // op:name
		inits   int
	}{
		{[]string{"block.conv"}, []string{"Conv:block.conv"}, 1},
		{[]string{"block"}, []string{"Conv:block.conv", "Relu:block.act#1", "Add:block/Add_1", "Relu:block.act", "Identity:block"}, 1},
		{[]string{"seq.0", "block.act"}, []string{"Conv:block.conv", "Relu:block.act#1", "Add:block/Add_1", "Relu:block.act", "Identity:seq.0"}, 1},
	} {
		m := decode(t, b, w, tc.outputs)
		var nodes []string
		for _, n := range m.Graph.Node {
			nodes = append(nodes, n.OpType+":"+n.Output[0])
		}
		if !slices.Equal(nodes, tc.nodes) || len(m.Graph.Initializer) != tc.inits {
			t.Errorf("ONNX(%v) nodes = %v, %d initializers; want %v, %d", tc.outputs, nodes, len(m.Graph.Initializer), tc.nodes, tc.inits)
		}
		for i, o := range m.Graph.Output {
			if o.Name != tc.outputs[i] {
				t.Errorf("ONNX(%v) output %d = %s", tc.outputs, i, o.Name)
			}
		}
	}
	var le *sdk.LayerError
	if _, err := b.ONNX(w, []string{"block.cnv"}); !errors.As(err, &le) || !slices.Contains(le.Suggestions, "block.conv") {
		t.Errorf("ONNX(block.cnv) = %v; want a LayerError suggesting block.conv", err)
	}
}

func decode(t *testing.T, b *nn.Builder, w *nn.Weights, outputs []string) *onnxpb.ModelProto {
	t.Helper()
	data, err := b.ONNX(w, outputs)
	if err != nil {
		t.Fatalf("ONNX(%v): %v", outputs, err)
	}
	var m onnxpb.ModelProto
	if err := proto.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return &m
}

func TestTooSmall(t *testing.T) {
	b := nn.NewBuilder("Net")
	x := b.Input("input", []int64{-1, 3, 2, 2})
	b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: 4, Kernel: nn.P(5)})
	if err := b.Err(); !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "too small") {
		t.Errorf("Err() = %v; want a too-small input error", err)
	}
	if _, err := b.ONNX(nil, []string{"conv"}); err == nil {
		t.Error("ONNX of a failed build succeeded")
	}
}

func TestLoadWeights(t *testing.T) {
	specs := testNet(21, 27).Specs()
	full := nn.RandomWeights(specs, 3).StateDict()
	t.Run("exact", func(t *testing.T) {
		if _, err := nn.LoadWeights(specs, full); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("optional missing", func(t *testing.T) {
		sd := maps(full)
		delete(sd, "bn.num_batches_tracked")
		if _, err := nn.LoadWeights(specs, sd); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("mismatch", func(t *testing.T) {
		sd := maps(full)
		delete(sd, "conv.bias")
		sd["extra.weight"] = sdk.Zeros(1)
		sd["fc.weight"] = sdk.Zeros(10, 64)
		_, err := nn.LoadWeights(specs, sd)
		var me *nn.MismatchError
		if !errors.As(err, &me) || !errors.Is(err, sdk.ErrWeights) {
			t.Fatalf("LoadWeights = %v; want *MismatchError", err)
		}
		if !slices.Equal(me.Missing, []string{"conv.bias"}) || !slices.Equal(me.Unexpected, []string{"extra.weight"}) ||
			len(me.Mismatched) != 1 || !strings.HasPrefix(me.Mismatched[0], "fc.weight") {
			t.Errorf("LoadWeights error = %+v", me)
		}
	})
}

func maps(m map[string]*sdk.Tensor) map[string]*sdk.Tensor {
	out := map[string]*sdk.Tensor{}
	for k, v := range m {
		out[k] = v
	}
	return out
}

func TestRandomWeights(t *testing.T) {
	specs := testNet(21, 27).Specs()
	a, b := nn.RandomWeights(specs, 7), nn.RandomWeights(specs, 7)
	if !slices.Equal(a.Tensor("conv.weight").Float32, b.Tensor("conv.weight").Float32) {
		t.Error("same seed gave different weights")
	}
	if slices.Equal(a.Tensor("conv.weight").Float32, nn.RandomWeights(specs, 8).Tensor("conv.weight").Float32) {
		t.Error("different seeds gave the same weights")
	}
	bound := 1 / math.Sqrt(27) // fan_in of conv: 3*3*3
	for _, v := range a.Tensor("conv.weight").Float32 {
		if math.Abs(float64(v)) > bound {
			t.Fatalf("conv.weight value %v outside torch's bound %v", v, bound)
		}
	}
	if v := a.Tensor("bn.running_var").Float32[0]; v != 1 {
		t.Errorf("bn.running_var = %v; want 1", v)
	}
}

// TestChecker validates the ONNX output with the onnx Python package.
func TestChecker(t *testing.T) {
	py := "/usr/bin/python3"
	if out, err := exec.Command(py, "-c", "import onnx").CombinedOutput(); err != nil {
		testenv.Missing(t, "python3-onnx", "apt-get install python3-onnx: "+string(out))
	}
	b := testNet(21, 27)
	data, err := b.ONNX(nn.RandomWeights(b.Specs(), 1), b.LayerNames())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "net.onnx")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	script := `import sys, onnx
m = onnx.load(sys.argv[1])
onnx.checker.check_model(m, full_check=True)
print(m.opset_import[0].version, len(m.graph.node), len(m.graph.output))`
	out, err := exec.Command(py, "-c", script, path).CombinedOutput()
	if err != nil {
		t.Fatalf("onnx.checker: %v\n%s", err, out)
	}
	if got := strings.Fields(string(out)); len(got) != 3 || got[0] != "17" || got[2] != "13" {
		t.Errorf("checker printed %q; want opset 17 and 13 outputs", out)
	}
}

// TestModuleParity runs the test net on ONNX Runtime with weights saved by
// PyTorch and compares every module's output with torch's forward hooks.
func TestModuleParity(t *testing.T) {
	testenv.Python(t)
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/modules.py", dir)
	var meta struct {
		Input   []int64            `json:"input"`
		Outputs map[string][]int64 `json:"outputs"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	sd, err := bridge.Load(filepath.Join(dir, "weights.pth"))
	if err != nil {
		t.Fatal(err)
	}
	b := testNet(21, 27)
	w, err := nn.LoadWeights(b.Specs(), sd.Tensors)
	if err != nil {
		t.Fatal(err)
	}
	data, err := b.ONNX(w, b.LayerNames())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, ort.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), map[string]*sdk.Tensor{"input": readRaw(t, dir, "input", meta.Input)}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, shape := range meta.Outputs {
		want := readRaw(t, dir, name, shape)
		got := out[name]
		if got == nil || !sdk.EqualShape(got.Shape, want.Shape) {
			t.Errorf("layer %s = %v; want shape %v", name, got, want.Shape)
			continue
		}
		var diff, scale float64
		for i := range want.Float32 {
			diff = math.Max(diff, math.Abs(float64(got.Float32[i]-want.Float32[i])))
			scale = math.Max(scale, math.Abs(float64(want.Float32[i])))
		}
		if diff > 1e-5*math.Max(1, scale) {
			t.Errorf("layer %s: max |ours - torch| = %.3g (max |torch| %.3g)", name, diff, scale)
		}
	}
}

func readRaw(t *testing.T, dir, name string, shape []int64) *sdk.Tensor {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name+".bin"))
	if err != nil {
		t.Fatal(err)
	}
	data := make([]float32, len(b)/4)
	for i := range data {
		data[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	x, err := sdk.NewTensor(shape, data)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestTooLarge(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit string // $GOZOO_MAX_PARAMS
		out   int64  // Linear(512, out)
		want  string // in the error; "" when the build must succeed
	}{
		{"1e11 classes", "", 100_000_000_000, "parameter fc.weight of shape [100000000000, 512] would have 51200000000000 elements, over the limit of 2147483648 (2^31) per tensor"},
		{"overflowing int64", "", 1 << 60, "more than 9.2e18 elements"},
		{"over the default total", "", 1 << 21, "over the limit of 536870912 per model (2.0 GiB of float32; set GOZOO_MAX_PARAMS to raise it)"},
		{"over a lowered total", "5125", 10, "the parameters would have 5130 elements with fc.bias (shape [10]), over the limit of 5125 per model (20500 bytes of float32;"},
		{"within a raised total", "2000000000", 1 << 21, ""},
		{"ignored bad setting", "lots", 1000, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("GOZOO_MAX_PARAMS", tc.limit)
			b := nn.NewBuilder("Net")
			x := b.Input("input", []int64{-1, 512})
			b.Linear("fc", x, 512, tc.out, true)
			err := b.Err()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Err() = %v; want nil", err)
				}
				return
			}
			if !errors.Is(err, nn.ErrTooLarge) || !errors.Is(err, sdk.ErrBadOption) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Err() = %v; want ErrTooLarge (a bad option) containing %q", err, tc.want)
			}
		})
	}
}
