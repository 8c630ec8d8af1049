package nn_test

import (
	"errors"
	"math"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// TestMobileActivations checks ReLU6, Hardswish and Hardsigmoid against
// torch's definitions written out in float64, around their kinks and far
// from them.
func TestMobileActivations(t *testing.T) {
	relu6 := func(x float64) float64 { return math.Min(math.Max(x, 0), 6) }
	tests := []struct {
		kind string
		add  func(b *nn.Builder, x nn.Value) nn.Value
		ref  func(x float64) float64
	}{
		{"ReLU6", func(b *nn.Builder, x nn.Value) nn.Value { return b.ReLU6("act", x) }, relu6},
		{"Hardswish", func(b *nn.Builder, x nn.Value) nn.Value { return b.Hardswish("act", x) },
			func(x float64) float64 { return x * relu6(x+3) / 6 }},
		{"Hardsigmoid", func(b *nn.Builder, x nn.Value) nn.Value { return b.Hardsigmoid("act", x) },
			func(x float64) float64 { return relu6(x+3) / 6 }},
	}
	vals := []float32{-100, -6, -3.5, -3, -2.999, -1, -0.5, 0, 1e-3, 0.5, 1, 2.5, 2.999, 3, 3.001, 5.999, 6, 6.5, 100}
	in, err := sdk.NewTensor([]int64{1, int64(len(vals))}, vals)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			b := nn.NewBuilder("Net")
			tc.add(b, b.Input("input", []int64{-1, int64(len(vals))}, 0))
			if err := b.Err(); err != nil {
				t.Fatal(err)
			}
			if l, _ := b.Layer("act"); l.Kind != tc.kind || !sdk.EqualShape(l.Shape, []int64{-1, int64(len(vals))}) {
				t.Errorf("Layer(act) = %+v; want %s [-1, %d]", l, tc.kind, len(vals))
			}
			got := run(t, b, nn.RandomWeights(b.Specs(), 1), in, "act")["act"]
			for i, v := range vals {
				want := tc.ref(float64(v))
				if d := math.Abs(float64(got.Float32[i]) - want); d > 1e-6*math.Max(1, math.Abs(want)) {
					t.Errorf("%s(%v) = %v; want %v", tc.kind, v, got.Float32[i], want)
				}
			}
		})
	}
}

// TestChannelShuffle compares ChannelShuffle with torchvision's
// channel_shuffle computed by index: view [N, g, C/g, H, W], transpose
// axes 1 and 2, view [N, C, H, W].
func TestChannelShuffle(t *testing.T) {
	for _, g := range []int64{1, 2, 3} {
		const n, c, h, w = 2, 6, 3, 2
		b := nn.NewBuilder("Net")
		x := b.Input("input", []int64{-1, c, h, w}, 0, 2, 3)
		b.ChannelShuffle("shuffle", x, g)
		if err := b.Err(); err != nil {
			t.Fatal(err)
		}
		in := sdk.Zeros(n, c, h, w)
		for i := range in.Float32 {
			in.Float32[i] = float32(i)
		}
		got := run(t, b, nn.RandomWeights(b.Specs(), 1), in, "shuffle")["shuffle"]
		if !sdk.EqualShape(got.Shape, in.Shape) {
			t.Fatalf("groups %d: shape %v; want %v", g, got.Shape, in.Shape)
		}
		per := c / g
		for bi := range int64(n) {
			for gi := range g {
				for j := range per {
					// The transposed view puts [gi, j] at channel j*g + gi.
					src, dst := gi*per+j, j*g+gi
					for p := range int64(h * w) {
						if a, e := got.Float32[(bi*c+dst)*h*w+p], in.Float32[(bi*c+src)*h*w+p]; a != e {
							t.Fatalf("groups %d: out[%d, %d, %d] = %v; want input channel %d (%v)", g, bi, dst, p, a, src, e)
						}
					}
				}
			}
		}
	}
	b := nn.NewBuilder("Net")
	b.ChannelShuffle("", b.Input("input", []int64{-1, 5, 4, 4}, 0), 2)
	if err := b.Err(); !errors.Is(err, nn.ErrBuild) {
		t.Errorf("ChannelShuffle of 5 channels into 2 groups: %v; want ErrBuild", err)
	}
}
