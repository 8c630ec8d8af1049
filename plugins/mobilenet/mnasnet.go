package mobilenet

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// mnasnetDepths is torchvision's _get_depths(alpha): the reference
// MobileNet depths scaled by alpha and rounded to multiples of 8,
// preferring to round up (_round_to_multiple_of with bias 0.9).
func mnasnetDepths(alpha float64) [8]int64 {
	var out [8]int64
	for i, d := range [8]int64{32, 16, 24, 40, 80, 96, 192, 320} {
		v := float64(d) * alpha
		n := max(8, int64(v+4)/8*8)
		if float64(n) < 0.9*v {
			n += 8
		}
		out[i] = n
	}
	return out
}

// mnasnetStacks are the six stacks of inverted residuals after the stem:
// kernel, first stride, expansion, repeats (MNASNet.__init__'s _stack
// calls).
var mnasnetStacks = [6][4]int64{
	{3, 2, 3, 3},
	{5, 2, 3, 3},
	{5, 2, 6, 3},
	{3, 1, 6, 2},
	{5, 2, 6, 4},
	{3, 1, 6, 1},
}

// mnasnet returns the builder of torchvision's MNASNet (the B1 variant,
// version 2) for alpha: the Sequential "layers" (a stem of modules 0 to
// 7, stacks 8 to 13, a 1x1 conv to 1280 channels with its norm and ReLU
// as 14 to 16), x.mean([2, 3]) as the layer "mean", and the classifier
// (Dropout, Linear). BatchNorm eps is torch's default 1e-5 (MNASNet
// changes only the momentum). With v1Stem the stem is version 1's, whose
// widths (32, 16) do not scale with alpha, as torchvision rebuilds it for
// a version-1 checkpoint of alpha != 1.
func mnasnet(alpha float64, v1Stem bool) func(b *nn.Builder, x nn.Value, numClasses int64) {
	return func(b *nn.Builder, x nn.Value, numClasses int64) {
		const eps = 1e-5
		d := mnasnetDepths(alpha)
		stem0, stem1 := d[0], d[1]
		if v1Stem {
			stem0, stem1 = 32, 16
		}
		x = b.Module("layers", "Sequential", func() nn.Value {
			x = conv(b, "0", x, 3, stem0, 3, 2, 1)
			x = b.BatchNorm2dEps("1", x, stem0, eps)
			x = b.ReLU("2", x)
			x = conv(b, "3", x, stem0, stem0, 3, 1, stem0)
			x = b.BatchNorm2dEps("4", x, stem0, eps)
			x = b.ReLU("5", x)
			x = conv(b, "6", x, stem0, stem1, 1, 1, 1)
			x = b.BatchNorm2dEps("7", x, stem1, eps)
			in := stem1
			for i, s := range mnasnetStacks {
				out := d[i+2]
				x = b.Module(itoa(8+i), "Sequential", func() nn.Value {
					for j := range s[3] {
						stride := s[1]
						if j > 0 {
							stride = 1
						}
						x = mnasnetBlock(b, itoa(int(j)), x, in, out, s[0], stride, s[2])
						in = out
					}
					return x
				})
			}
			x = conv(b, "14", x, in, 1280, 1, 1, 1)
			x = b.BatchNorm2dEps("15", x, 1280, eps)
			return b.ReLU("16", x)
		})
		x = globalMean(b, x)
		b.Sequential("classifier", x,
			func(name string, x nn.Value) nn.Value { return b.Dropout(name, x) },
			func(name string, x nn.Value) nn.Value { return b.Linear(name, x, 1280, numClasses, true) })
	}
}

// mnasnetBlock is MNASNet's _InvertedResidual: in the Sequential
// "layers", a 1x1 expansion, the depthwise conv, a 1x1 projection, each
// with its norm (and ReLU but the last); the input is added when the
// shape allows.
func mnasnetBlock(b *nn.Builder, name string, x nn.Value, in, out, kernel, stride, expand int64) nn.Value {
	const eps = 1e-5
	mid := in * expand
	return b.Module(name, "_InvertedResidual", func() nn.Value {
		y := b.Module("layers", "Sequential", func() nn.Value {
			y := conv(b, "0", x, in, mid, 1, 1, 1)
			y = b.BatchNorm2dEps("1", y, mid, eps)
			y = b.ReLU("2", y)
			y = conv(b, "3", y, mid, mid, kernel, stride, mid)
			y = b.BatchNorm2dEps("4", y, mid, eps)
			y = b.ReLU("5", y)
			y = conv(b, "6", y, mid, out, 1, 1, 1)
			return b.BatchNorm2dEps("7", y, out, eps)
		})
		if in == out && stride == 1 {
			return b.Add("", y, x)
		}
		return y
	})
}
