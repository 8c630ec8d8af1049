package nn_test

import (
	"context"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// run builds b's outputs into a session and runs it on input.
func run(t *testing.T, b *nn.Builder, w *nn.Weights, input *sdk.Tensor, outputs ...string) map[string]*sdk.Tensor {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
	data, err := b.ONNX(w, outputs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, ort.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), map[string]*sdk.Tensor{"input": input}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestLeakyReLU(t *testing.T) {
	b := nn.NewBuilder("Net")
	x := b.Input("input", []int64{-1, 7})
	b.LeakyReLU("act", x, 0.2)
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	if l, _ := b.Layer("act"); l.Kind != "LeakyReLU" || !sdk.EqualShape(l.Shape, []int64{-1, 7}) {
		t.Errorf("Layer(act) = %+v; want LeakyReLU [-1, 7]", l)
	}
	in, _ := sdk.NewTensor([]int64{2, 7}, []float32{-3, -1, -0.25, 0, 0.25, 1, 3, -1e-3, 1e-3, -100, 100, -0.5, 0.5, float32(math.Inf(-1))})
	got := run(t, b, nn.RandomWeights(b.Specs(), 1), in, "act")["act"]
	for i, v := range in.Float32 {
		want := v
		if v < 0 {
			want = v * float32(0.2)
		}
		if got.Float32[i] != want {
			t.Errorf("LeakyReLU(0.2)(%v) = %v; want %v", v, got.Float32[i], want)
		}
	}
}

// snRef is torch's eval-mode spectral norm followed by Conv2d (stride 1,
// padding 1, 3x3) written out in float64 over the weights' float32
// values.
func snRef(x *sdk.Tensor, w, u, v, bias []float32, out, in int64) []float64 {
	k := in * 9
	var sigma float64
	for o := range out {
		var wv float64
		for j := range k {
			wv += float64(w[o*k+j]) * float64(v[j])
		}
		sigma += float64(u[o]) * wv
	}
	n, h, wd := x.Shape[0], x.Shape[2], x.Shape[3]
	res := make([]float64, 0, n*out*h*wd)
	for b := range n {
		for o := range out {
			for i := range h {
				for j := range wd {
					s := float64(bias[o])
					for c := range in {
						for di := int64(-1); di <= 1; di++ {
							for dj := int64(-1); dj <= 1; dj++ {
								y, z := i+di, j+dj
								if y < 0 || z < 0 || y >= h || z >= wd {
									continue
								}
								wt := float64(w[((o*in+c)*3+di+1)*3+dj+1]) / sigma
								s += wt * float64(x.Float32[((b*in+c)*h+y)*wd+z])
							}
						}
					}
					res = append(res, s)
				}
			}
		}
	}
	return res
}

// TestSpectralNormConv2d checks both of torch's spectral_norm layouts:
// the state_dict names and order (bias first, as torch moves the
// weight), the layer kind, and the output against the eval-mode formula
// sigma = u · (W_mat v), W / sigma, with u and v used as stored (not
// normalised, no power iteration).
func TestSpectralNormConv2d(t *testing.T) {
	tests := []struct {
		sn      nn.SpectralNorm
		kind    string
		w, u, v string
		keys    string
	}{
		{nn.SpectralNormHook, "Conv2d", "conv.weight_orig", "conv.weight_u", "conv.weight_v",
			"conv.bias conv.weight_orig conv.weight_u conv.weight_v"},
		{nn.SpectralNormParametrized, "ParametrizedConv2d", "conv.parametrizations.weight.original",
			"conv.parametrizations.weight.0._u", "conv.parametrizations.weight.0._v",
			"conv.bias conv.parametrizations.weight.original conv.parametrizations.weight.0._u conv.parametrizations.weight.0._v"},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			b := nn.NewBuilder("Net")
			x := b.Input("input", []int64{-1, 3, 5, 6}, 0)
			b.Conv2d("conv", x, nn.Conv2d{In: 3, Out: 4, Kernel: nn.P(3), Padding: nn.P(1), Bias: true, SpectralNorm: tc.sn})
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for _, s := range b.Specs() {
				keys = append(keys, s.Name)
			}
			if got := strings.Join(keys, " "); got != tc.keys {
				t.Errorf("Specs() = %s; want %s", got, tc.keys)
			}
			if ps := b.Params(); len(ps) != 2 || ps[1].Name != tc.w || !sdk.EqualShape(ps[1].Shape, []int64{4, 3, 3, 3}) {
				t.Errorf("Params() = %v; want bias and %s [4, 3, 3, 3]", ps, tc.w)
			}
			if l, _ := b.Layer("conv"); l.Kind != tc.kind || l.Params != 4+4*27 || !sdk.EqualShape(l.Shape, []int64{-1, 4, 5, 6}) {
				t.Errorf("Layer(conv) = %+v; want %s [-1, 4, 5, 6] with %d params", l, tc.kind, 4+4*27)
			}
			if !slices.Equal(b.LayerNames(), []string{"conv"}) {
				t.Errorf("LayerNames() = %v; want [conv]", b.LayerNames())
			}
			wts := nn.RandomWeights(b.Specs(), 3)
			in := sdk.Zeros(2, 3, 5, 6)
			for i := range in.Float32 {
				in.Float32[i] = float32(math.Sin(float64(i) * 0.7))
			}
			got := run(t, b, wts, in, "conv")["conv"]
			want := snRef(in, wts.Tensor(tc.w).Float32, wts.Tensor(tc.u).Float32, wts.Tensor(tc.v).Float32, wts.Tensor("conv.bias").Float32, 4, 3)
			var diff, scale float64
			for i := range want {
				diff = math.Max(diff, math.Abs(float64(got.Float32[i])-want[i]))
				scale = math.Max(scale, math.Abs(want[i]))
			}
			if diff > 1e-5*math.Max(1, scale) || scale == 0 {
				t.Errorf("spectral-norm conv: max |ours - reference| = %.3g (max |reference| %.3g)", diff, scale)
			}
		})
	}
}
