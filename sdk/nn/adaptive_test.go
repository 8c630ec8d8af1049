package nn_test

import (
	"context"
	"math"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// adaptiveRef is torch's AdaptiveAvgPool2d written out.
func adaptiveRef(x *sdk.Tensor, oh, ow int64) []float32 {
	n, c, h, w := x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]
	var out []float32
	for p := range n * c {
		for i := range oh {
			h0, h1 := i*h/oh, ((i+1)*h+oh-1)/oh
			for j := range ow {
				w0, w1 := j*w/ow, ((j+1)*w+ow-1)/ow
				var s float64
				for y := h0; y < h1; y++ {
					for z := w0; z < w1; z++ {
						s += float64(x.Float32[p*h*w+y*w+z])
					}
				}
				out = append(out, float32(s/float64((h1-h0)*(w1-w0))))
			}
		}
	}
	return out
}

// TestAdaptiveAvgPoolAnySize runs AdaptiveAvgPool2d at output sizes that
// do not divide the input (overlapping windows, and inputs smaller than
// the output), ChannelAffine and BatchNorm2dEps on ONNX Runtime and
// compares them with the formulas written out.
func TestAdaptiveAvgPoolAnySize(t *testing.T) {
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
	tests := []struct {
		h, w int64
		out  nn.Pair
	}{
		{5, 5, nn.P(7)}, {14, 14, nn.P(4)}, {3, 4, nn.P(7)}, {1, 1, nn.Pair{2, 3}}, {13, 9, nn.Pair{4, 2}}, {14, 14, nn.P(7)},
	}
	for _, tc := range tests {
		b := nn.NewBuilder("Net")
		x := b.Input("input", []int64{-1, 3, tc.h, tc.w})
		a := b.ChannelAffine("affine", x, []float32{0.458, 0.448, 0.45}, []float32{-0.03, -0.088, -0.188})
		n := b.BatchNorm2dEps("bn", a, 3, 0.001)
		b.AdaptiveAvgPool2d("pool", n, tc.out)
		if err := b.Err(); err != nil {
			t.Fatalf("%v -> %v: %v", tc, tc.out, err)
		}
		w := nn.RandomWeights(b.Specs(), 1)
		data, err := b.ONNX(w, []string{"affine", "bn", "pool"})
		if err != nil {
			t.Fatal(err)
		}
		s, err := ort.NewSession(data, ort.WithThreads(1))
		if err != nil {
			t.Fatal(err)
		}
		in := sdk.Zeros(2, 3, tc.h, tc.w)
		for i := range in.Float32 {
			in.Float32[i] = float32(math.Sin(float64(i)))
		}
		out, err := s.Run(context.Background(), map[string]*sdk.Tensor{"input": in}, nil)
		s.Close()
		if err != nil {
			t.Fatalf("Run(%v): %v", tc, err)
		}
		scale := []float32{0.458, 0.448, 0.45}
		shift := []float32{-0.03, -0.088, -0.188}
		hw := int(tc.h * tc.w)
		for i, v := range out["affine"].Float32 {
			c := (i / hw) % 3
			if want := float32(in.Float32[i]*scale[c]) + shift[c]; v != want { // no FMA, as ORT
				t.Fatalf("affine[%d] = %v; want %v", i, v, want)
			}
		}
		// Unit BatchNorm with eps 0.001: x / sqrt(1.001).
		bn := out["bn"]
		for i, v := range bn.Float32 {
			if want := out["affine"].Float32[i] / float32(math.Sqrt(1.001)); math.Abs(float64(v-want)) > 1e-6 {
				t.Fatalf("bn[%d] = %v; want %v", i, v, want)
			}
		}
		want := adaptiveRef(bn, tc.out[0], tc.out[1])
		got := out["pool"]
		if !sdk.EqualShape(got.Shape, []int64{2, 3, tc.out[0], tc.out[1]}) {
			t.Fatalf("pool(%v) shape %v", tc, got.Shape)
		}
		for i := range want {
			if math.Abs(float64(got.Float32[i]-want[i])) > 1e-6 {
				t.Errorf("pool(%dx%d -> %v)[%d] = %v; want %v", tc.h, tc.w, tc.out, i, got.Float32[i], want[i])
				break
			}
		}
	}
}
