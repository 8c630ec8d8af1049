package nn_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// bicubicSizes are the output sizes testdata/attention.py interpolates to.
var bicubicSizes = [][2]int64{{7, 9}, {3, 4}, {1, 1}, {5, 5}, {10, 6}, {2, 8}}

// opsNet mirrors Ops in testdata/attention.py: x [N, T, 16] tokens with
// lengths, grid [1, 8, 5, 5] for the bicubic resizes.
func opsNet(T int64) *nn.Builder {
	b := nn.NewBuilder("Ops")
	x := b.Input("x", []int64{-1, T, 16}, 0, 1)
	lengths := b.InputInt64("lengths", []int64{-1}, 0)
	grid := b.Input("grid", []int64{1, 8, 5, 5})
	b.LayerNorm("ln", x, 16, 1e-6)
	b.GELU("gelu", x)
	b.Softmax("softmax", x, -1)
	p := b.Padding(lengths, x, true)
	b.SelfAttention("bf", x, nn.Attention{EmbedDim: 16, NumHeads: 4, BatchFirst: true}, p.Keys)
	xt := b.Transpose("", "", x, 1, 0, 2)
	b.SelfAttention("tm", xt, nn.Attention{EmbedDim: 16, NumHeads: 4}, p.Keys)
	b.MeanTokens("mean", "MeanTokens", x, p)
	for _, s := range bicubicSizes {
		b.Bicubic(fmt.Sprintf("bicubic_%dx%d", s[0], s[1]), "Resize", grid, b.ConstInts(s[0], s[1]), s[0], s[1])
	}
	return b
}

// TestTransformerOpsParity runs LayerNorm, GELU, Softmax, SelfAttention
// (batch first and time-major, with a key padding mask), MeanTokens and
// Bicubic on ONNX Runtime with weights saved by PyTorch and compares them
// with torch's results.
func TestTransformerOpsParity(t *testing.T) {
	testenv.Python(t)
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/attention.py", dir)
	var meta map[string][]int64
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
	b := opsNet(6)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	w, err := nn.LoadWeights(b.Specs(), sd.Tensors)
	if err != nil {
		t.Fatal(err)
	}
	names := slices.Sorted(func(yield func(string) bool) {
		for k := range meta {
			if !yield(k) {
				return
			}
		}
	})
	data, err := b.ONNX(w, names)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, ort.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := map[string]*sdk.Tensor{
		"x":       readRaw(t, dir, "x", []int64{2, 6, 16}),
		"grid":    readRaw(t, dir, "grid", []int64{1, 8, 5, 5}),
		"lengths": {Shape: []int64{2}, Int64: []int64{6, 3}},
	}
	out, err := s.Run(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		want := readRaw(t, dir, name, meta[name])
		got := out[name]
		if got == nil || !sdk.EqualShape(got.Shape, want.Shape) {
			t.Errorf("%s = %v; want shape %v", name, got, want.Shape)
			continue
		}
		var diff, scale float64
		for i := range want.Float32 {
			diff = math.Max(diff, math.Abs(float64(got.Float32[i]-want.Float32[i])))
			scale = math.Max(scale, math.Abs(float64(want.Float32[i])))
		}
		if diff > 1e-5*math.Max(1, scale) || math.IsNaN(diff) {
			t.Errorf("%s: max |ours - torch| = %.3g (max |torch| %.3g)", name, diff, scale)
		} else if testing.Verbose() {
			t.Logf("%-14s max |ours - torch| = %.3g (max |torch| %.3g)", name, diff, scale)
		}
	}
}

// TestTokenGraphsShareKey checks that the token ops read sequence lengths
// from the graph's input: graphs built for two lengths are one graph.
func TestTokenGraphsShareKey(t *testing.T) {
	outs := []string{"bf", "tm", "mean", "ln"}
	k6, err := opsNet(6).GraphKey(outs)
	if err != nil {
		t.Fatal(err)
	}
	k11, err := opsNet(11).GraphKey(outs)
	if err != nil {
		t.Fatal(err)
	}
	if k6 != k11 {
		t.Error("graphs for 6 and 11 tokens differ; want one graph for every length")
	}
	ls := opsNet(11).Layers()
	want := map[string][]int64{"bf": {-1, 11, 16}, "tm": {11, -1, 16}, "bf.out_proj": {-1, 11, 16}, "mean": {-1, 16}, "bicubic_10x6": {1, 8, 10, 6}}
	for _, l := range ls {
		if w, ok := want[l.Name]; ok && !sdk.EqualShape(l.Shape, w) {
			t.Errorf("layer %s shape %v; want %v", l.Name, l.Shape, w)
		}
	}
	i := slices.IndexFunc(ls, func(l sdk.Layer) bool { return l.Name == "bf" })
	if i < 0 || ls[i].Params != 3*16*16+3*16+16*16+16 || ls[i].Kind != "MultiheadAttention" {
		t.Errorf("layer bf = %+v; want a MultiheadAttention with %d params", ls[i], 3*16*16+3*16+16*16+16)
	}
}

// TestMapOutput checks that a mapped layer returns the view while the
// modules after it read the original.
func TestMapOutput(t *testing.T) {
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
	b := nn.NewBuilder("Net")
	x := b.Input("x", []int64{-1, 3, 2}, 0, 1)
	lengths := b.InputInt64("lengths", []int64{-1}, 0)
	p := b.Padding(lengths, x, true)
	h := b.Identity("id", x)
	b.MapOutput("id", func(v nn.Value) nn.Value { return b.ZeroPadding(v, p) })
	b.ReduceSum("sum", "Sum", h, false, 1)
	b.Module("box", "Box", func() nn.Value { return b.Identity("inner", h) })
	b.MapOutput("box", func(v nn.Value) nn.Value { return b.Mul(v, b.ConstFloat(2)) })
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	data, err := b.ONNX(nn.RandomWeights(b.Specs(), 1), []string{"id", "sum", "box", "box.inner"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, ort.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := &sdk.Tensor{Shape: []int64{2, 3, 2}, Float32: []float32{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}}
	out, err := s.Run(context.Background(), map[string]*sdk.Tensor{"x": in, "lengths": {Shape: []int64{2}, Int64: []int64{3, 1}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]float32{
		"id":        {1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0},
		"sum":       {9, 12, 27, 30},
		"box":       {2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24},
		"box.inner": {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12},
	} {
		if got := out[name]; got == nil || !slices.Equal(got.Float32, want) {
			t.Errorf("%s = %v; want %v", name, got, want)
		}
	}
	b.MapOutput("nope", func(v nn.Value) nn.Value { return v })
	if b.Err() == nil {
		t.Error("MapOutput of an unknown layer is no build error")
	}
}
