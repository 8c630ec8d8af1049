package nn_test

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

func sigmoid(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// TestSiLU checks SiLU against x * sigmoid(x) in float64, far into both
// tails and around 0.
func TestSiLU(t *testing.T) {
	vals := []float32{-100, -20, -5, -1, -0.25, -1e-4, 0, 1e-4, 0.25, 1, 5, 20, 100}
	n := int64(len(vals))
	b := nn.NewBuilder("Net")
	b.SiLU("act", b.Input("input", []int64{-1, n}, 0))
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.Layer("act"); l.Kind != "SiLU" || !sdk.EqualShape(l.Shape, []int64{-1, n}) {
		t.Errorf("Layer(act) = %+v; want SiLU [-1, %d]", l, n)
	}
	in, err := sdk.NewTensor([]int64{1, n}, vals)
	if err != nil {
		t.Fatal(err)
	}
	got := run(t, b, nn.RandomWeights(b.Specs(), 1), in, "act")["act"]
	for i, v := range vals {
		want := float64(v) * sigmoid(float64(v))
		if d := math.Abs(float64(got.Float32[i]) - want); d > 1e-6*math.Max(1, math.Abs(want)) {
			t.Errorf("SiLU(%v) = %v; want %v", v, got.Float32[i], want)
		}
	}
}

// seRef is torchvision.ops.SqueezeExcitation in float64 over float32
// weights: x * sigma(fc2(delta(fc1(mean_hw(x))))).
func seRef(x *sdk.Tensor, w *nn.Weights, delta func(float64) float64, squeeze int64) []float64 {
	n, c, hw := x.Shape[0], x.Shape[1], x.Shape[2]*x.Shape[3]
	w1, b1 := w.Tensor("se.fc1.weight").Float32, w.Tensor("se.fc1.bias").Float32
	w2, b2 := w.Tensor("se.fc2.weight").Float32, w.Tensor("se.fc2.bias").Float32
	out := make([]float64, 0, len(x.Float32))
	for i := range n {
		mean := make([]float64, c)
		for ch := range c {
			for _, v := range x.Float32[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				mean[ch] += float64(v)
			}
			mean[ch] /= float64(hw)
		}
		hidden := make([]float64, squeeze)
		for s := range squeeze {
			h := float64(b1[s])
			for ch := range c {
				h += float64(w1[s*c+ch]) * mean[ch]
			}
			hidden[s] = delta(h)
		}
		for ch := range c {
			z := float64(b2[ch])
			for s := range squeeze {
				z += float64(w2[ch*squeeze+s]) * hidden[s]
			}
			scale := sigmoid(z)
			for _, v := range x.Float32[(i*c+ch)*hw : (i*c+ch+1)*hw] {
				out = append(out, scale*float64(v))
			}
		}
	}
	return out
}

// TestSqueezeExcitation checks torchvision's module names and order, the
// parameters, and the output against seRef with the default ReLU and
// with SiLU (EfficientNet's).
func TestSqueezeExcitation(t *testing.T) {
	const c, sq = 6, 3
	tests := []struct {
		name  string
		act   func(b *nn.Builder) nn.Activation
		kind  string
		delta func(float64) float64
	}{
		{"relu", func(*nn.Builder) nn.Activation { return nil }, "ReLU", func(x float64) float64 { return math.Max(x, 0) }},
		{"silu", func(b *nn.Builder) nn.Activation { return b.SiLU }, "SiLU", func(x float64) float64 { return x * sigmoid(x) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := nn.NewBuilder("Net")
			x := b.Input("input", []int64{-1, c, 4, 5}, 0)
			b.SqueezeExcitation("se", x, nn.SqueezeExcitation{Channels: c, Squeeze: sq, Activation: tc.act(b)})
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, l := range b.Layers() {
				got = append(got, l.Name+":"+l.Kind)
			}
			want := "se:SqueezeExcitation se.avgpool:AdaptiveAvgPool2d se.fc1:Conv2d se.activation:" + tc.kind +
				" se.fc2:Conv2d se.scale_activation:Sigmoid"
			if strings.Join(got, " ") != want {
				t.Errorf("Layers() = %v; want %s", got, want)
			}
			var params []string
			for _, p := range b.Params() {
				params = append(params, p.Name+sdk.FormatShape(p.Shape))
			}
			if want := "se.fc1.weight[3, 6, 1, 1] se.fc1.bias[3] se.fc2.weight[6, 3, 1, 1] se.fc2.bias[6]"; strings.Join(params, " ") != want {
				t.Errorf("Params() = %v; want %s", params, want)
			}
			if l, _ := b.Layer("se"); !sdk.EqualShape(l.Shape, []int64{-1, c, 4, 5}) || l.Params != 2*c*sq+c+sq {
				t.Errorf("Layer(se) = %+v; want [-1, %d, 4, 5] with %d params", l, c, 2*c*sq+c+sq)
			}
			w := nn.RandomWeights(b.Specs(), 5)
			in := sdk.Zeros(2, c, 4, 5)
			for i := range in.Float32 {
				in.Float32[i] = float32(math.Sin(float64(i)*0.37)) * 2
			}
			out := run(t, b, w, in, "se")["se"]
			ref := seRef(in, w, tc.delta, sq)
			for i, v := range ref {
				if d := math.Abs(float64(out.Float32[i]) - v); d > 1e-6*math.Max(1, math.Abs(v)) {
					t.Fatalf("se[%d] = %v; want %v", i, out.Float32[i], v)
				}
			}
		})
	}
	b := nn.NewBuilder("Net")
	b.SqueezeExcitation("se", b.Input("input", []int64{-1, c, 4, 5}, 0), nn.SqueezeExcitation{Channels: c})
	if err := b.Err(); !errors.Is(err, nn.ErrBuild) || !strings.Contains(err.Error(), "squeezed to 0") {
		t.Errorf("SqueezeExcitation(squeeze 0) = %v; want ErrBuild naming the sizes", err)
	}
}

// TestConv2dNormActivation checks torchvision's default padding, the
// child names, a bias-free conv, the BatchNorm eps (1e-3 against a
// float64 reference) and the class-name override.
func TestConv2dNormActivation(t *testing.T) {
	b := nn.NewBuilder("Net")
	x := b.Input("input", []int64{-1, 2, 9, 7}, 0)
	y := b.Conv2dNormActivation("stem", x, nn.Conv2dNormActivation{
		Conv: nn.Conv2d{In: 2, Out: 4, Kernel: nn.P(5), Stride: nn.P(2), Bias: true}, Eps: 1e-3, Activation: b.SiLU, Kind: "SimpleStemIN"})
	b.Conv2dNormActivation("proj", y, nn.Conv2dNormActivation{Conv: nn.Conv2d{In: 4, Out: 4, Kernel: nn.P(3), Groups: 4}})
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range b.Layers() {
		got = append(got, l.Name+":"+l.Kind+sdk.FormatShape(l.Shape))
	}
	want := []string{"stem:SimpleStemIN[N, 4, 5, 4]", "stem.0:Conv2d[N, 4, 5, 4]", "stem.1:BatchNorm2d[N, 4, 5, 4]",
		"stem.2:SiLU[N, 4, 5, 4]", "proj:Conv2dNormActivation[N, 4, 5, 4]", "proj.0:Conv2d[N, 4, 5, 4]", "proj.1:BatchNorm2d[N, 4, 5, 4]"}
	if !slices.Equal(got, want) {
		t.Errorf("Layers() = %v; want %v", got, want)
	}
	var params []string
	for _, p := range b.Params() {
		params = append(params, p.Name)
	}
	if want := "stem.0.weight stem.1.weight stem.1.bias proj.0.weight proj.1.weight proj.1.bias"; strings.Join(params, " ") != want {
		t.Errorf("Params() = %v; want %s (no conv bias)", params, want)
	}

	// The eps reaches the graph: a 1x1 conv of identity weights, then
	// BatchNorm with running_var 0.25 and eps 1e-3.
	b = nn.NewBuilder("Net")
	b.Conv2dNormActivation("cna", b.Input("input", []int64{-1, 1, 1, 3}, 0), nn.Conv2dNormActivation{Conv: nn.Conv2d{In: 1, Out: 1, Kernel: nn.P(1)}, Eps: 1e-3})
	w := nn.RandomWeights(b.Specs(), 1)
	w.Tensor("cna.0.weight").Float32[0] = 1
	w.Tensor("cna.1.running_var").Float32[0] = 0.25
	w.Tensor("cna.1.running_mean").Float32[0] = 0
	w.Tensor("cna.1.weight").Float32[0] = 1
	w.Tensor("cna.1.bias").Float32[0] = 0
	in, _ := sdk.NewTensor([]int64{1, 1, 1, 3}, []float32{1, -2, 0.5})
	out := run(t, b, w, in, "cna")["cna"]
	for i, v := range in.Float32 {
		want := float64(v) / math.Sqrt(0.25+1e-3)
		if d := math.Abs(float64(out.Float32[i]) - want); d > 1e-6 {
			t.Errorf("BatchNorm(eps 1e-3)(%v) = %v; want %v", v, out.Float32[i], want)
		}
	}
}

// TestMakeDivisible checks values computed with torchvision's
// _make_divisible.
func TestMakeDivisible(t *testing.T) {
	tests := []struct {
		v    float64
		d    int64
		want int64
	}{
		{32 * 1.1, 8, 32}, {16 * 1.1, 8, 16}, {24 * 1.2, 8, 32}, {40 * 1.4, 8, 56}, {320 * 1.8, 8, 576},
		{3, 8, 8}, {12, 8, 16}, {11.9, 8, 16}, {17, 8, 16}, {92, 8, 96}, {104, 24, 96}, {440, 16, 448}, {1, 1, 1},
	}
	for _, tc := range tests {
		if got := nn.MakeDivisible(tc.v, tc.d); got != tc.want {
			t.Errorf("MakeDivisible(%v, %d) = %d; want %d", tc.v, tc.d, got, tc.want)
		}
	}
}
