package mobilenet

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// v3Eps is the BatchNorm eps of MobileNetV3 (torchvision builds its norm
// layer as partial(nn.BatchNorm2d, eps=0.001, momentum=0.01)).
const v3Eps = 1e-3

// v3Block is one row of torchvision's MobileNetV3 settings
// (InvertedResidualConfig at width_mult 1, no dilation).
type v3Block struct {
	in, kernel, expanded, out int64
	se                        bool
	act                       act // relu ("RE") or hardswish ("HS")
	stride                    int64
}

// v3Large and v3Small are _mobilenet_v3_conf's settings, and their last
// channels (the classifier's hidden width).
var (
	v3Large = []v3Block{
		{16, 3, 16, 16, false, relu, 1},
		{16, 3, 64, 24, false, relu, 2},
		{24, 3, 72, 24, false, relu, 1},
		{24, 5, 72, 40, true, relu, 2},
		{40, 5, 120, 40, true, relu, 1},
		{40, 5, 120, 40, true, relu, 1},
		{40, 3, 240, 80, false, hardswish, 2},
		{80, 3, 200, 80, false, hardswish, 1},
		{80, 3, 184, 80, false, hardswish, 1},
		{80, 3, 184, 80, false, hardswish, 1},
		{80, 3, 480, 112, true, hardswish, 1},
		{112, 3, 672, 112, true, hardswish, 1},
		{112, 5, 672, 160, true, hardswish, 2},
		{160, 5, 960, 160, true, hardswish, 1},
		{160, 5, 960, 160, true, hardswish, 1},
	}
	v3Small = []v3Block{
		{16, 3, 16, 16, true, relu, 2},
		{16, 3, 72, 24, false, relu, 2},
		{24, 3, 88, 24, false, relu, 1},
		{24, 5, 96, 40, true, hardswish, 2},
		{40, 5, 240, 40, true, hardswish, 1},
		{40, 5, 240, 40, true, hardswish, 1},
		{40, 5, 120, 48, true, hardswish, 1},
		{48, 5, 144, 48, true, hardswish, 1},
		{48, 5, 288, 96, true, hardswish, 2},
		{96, 5, 576, 96, true, hardswish, 1},
		{96, 5, 576, 96, true, hardswish, 1},
	}
	v3LargeLast int64 = 1280
	v3SmallLast int64 = 1024
)

// mobilenetV3 returns the builder of torchvision's MobileNetV3 with the
// given settings: features (a stem, the inverted residuals, a 1x1 conv to
// six times the last block's channels), avgpool, torch.flatten (a layer
// named "flatten", as torch.fx names it) and the classifier (Linear,
// Hardswish, Dropout, Linear).
func mobilenetV3(setting []v3Block, lastChannel int64) func(b *nn.Builder, x nn.Value, numClasses int64) {
	return func(b *nn.Builder, x nn.Value, numClasses int64) {
		last := 6 * setting[len(setting)-1].out
		x = b.Module("features", "Sequential", func() nn.Value {
			x = convNormAct(b, "0", x, cna{in: 3, out: setting[0].in, kernel: 3, stride: 2, act: hardswish, eps: v3Eps})
			for i, s := range setting {
				x = s.add(b, itoa(i+1), x)
			}
			return convNormAct(b, itoa(len(setting)+1), x, cna{in: setting[len(setting)-1].out, out: last, kernel: 1, act: hardswish, eps: v3Eps})
		})
		x = avgPool(b, "avgpool", x)
		sh := x.Shape()
		x = b.Node("flatten", "flatten", "Flatten", []nn.Value{x}, []int64{sh[0], sh[1]}, nn.Int("axis", 1))
		b.Sequential("classifier", x,
			func(name string, x nn.Value) nn.Value { return b.Linear(name, x, last, lastChannel, true) },
			func(name string, x nn.Value) nn.Value { return b.Hardswish(name, x) },
			func(name string, x nn.Value) nn.Value { return b.Dropout(name, x) },
			func(name string, x nn.Value) nn.Value { return b.Linear(name, x, lastChannel, numClasses, true) })
	}
}

// add records MobileNetV3's InvertedResidual: in the Sequential "block",
// an optional 1x1 expansion, the depthwise conv, an optional
// squeeze-excitation and the 1x1 projection (no activation); the input
// is added when the shape allows.
func (s v3Block) add(b *nn.Builder, name string, x nn.Value) nn.Value {
	return b.Module(name, "InvertedResidual", func() nn.Value {
		y := b.Module("block", "Sequential", func() nn.Value {
			y, i := x, 0
			if s.expanded != s.in {
				y = convNormAct(b, "0", y, cna{in: s.in, out: s.expanded, kernel: 1, act: s.act, eps: v3Eps})
				i++
			}
			y = convNormAct(b, itoa(i), y, cna{in: s.expanded, out: s.expanded, kernel: s.kernel, stride: s.stride,
				groups: s.expanded, act: s.act, eps: v3Eps})
			i++
			if s.se {
				y = squeezeExcitation(b, itoa(i), y, s.expanded, makeDivisible(float64(s.expanded/4), 8))
				i++
			}
			return convNormAct(b, itoa(i), y, cna{in: s.expanded, out: s.out, kernel: 1, eps: v3Eps})
		})
		if s.stride == 1 && s.in == s.out {
			return b.Add("", y, x) // result += input
		}
		return y
	})
}

// squeezeExcitation is torchvision.ops.SqueezeExcitation as MobileNetV3
// builds it (activation ReLU, scale_activation Hardsigmoid): avgpool,
// fc1 (1x1 conv with bias), activation, fc2, scale_activation, and the
// input scaled by the result.
func squeezeExcitation(b *nn.Builder, name string, x nn.Value, channels, squeeze int64) nn.Value {
	return b.Module(name, "SqueezeExcitation", func() nn.Value {
		s := avgPool(b, "avgpool", x)
		s = b.Conv2d("fc1", s, nn.Conv2d{In: channels, Out: squeeze, Kernel: nn.P(1), Bias: true, WeightInit: convInit})
		s = b.ReLU("activation", s)
		s = b.Conv2d("fc2", s, nn.Conv2d{In: squeeze, Out: channels, Kernel: nn.P(1), Bias: true, WeightInit: convInit})
		s = b.Hardsigmoid("scale_activation", s)
		return b.Mul(s, x)
	})
}
