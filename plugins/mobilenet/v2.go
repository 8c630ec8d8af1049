package mobilenet

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// v2Setting is MobileNetV2's inverted_residual_setting: expansion t,
// channels c, repeats n, first stride s.
var v2Setting = [][4]int64{
	{1, 16, 1, 1},
	{6, 24, 2, 2},
	{6, 32, 3, 2},
	{6, 64, 4, 2},
	{6, 96, 3, 1},
	{6, 160, 3, 2},
	{6, 320, 1, 1},
}

// mobilenetV2 records torchvision's MobileNetV2 (width_mult 1): features
// 0 to 18, then torchvision's functional adaptive_avg_pool2d and flatten
// (layers named as torch.fx names them), then the classifier (Dropout,
// Linear).
func mobilenetV2(b *nn.Builder, x nn.Value, numClasses int64) {
	const eps = 1e-5
	const lastChannel = 1280
	x = b.Module("features", "Sequential", func() nn.Value {
		in := int64(32)
		x = convNormAct(b, "0", x, cna{in: 3, out: in, kernel: 3, stride: 2, act: relu6, eps: eps})
		i := 1
		for _, s := range v2Setting {
			t, c, n, stride := s[0], s[1], s[2], s[3]
			for j := range n {
				if j > 0 {
					stride = 1
				}
				x = v2Block(b, itoa(i), x, in, c, stride, t)
				in = c
				i++
			}
		}
		return convNormAct(b, itoa(i), x, cna{in: in, out: lastChannel, kernel: 1, act: relu6, eps: eps})
	})
	x = b.ReduceMean("adaptive_avg_pool2d", "adaptive_avg_pool2d", x, true, 2, 3) // as avgPool
	sh := x.Shape()
	x = b.Node("flatten", "flatten", "Flatten", []nn.Value{x}, []int64{sh[0], sh[1]}, nn.Int("axis", 1))
	b.Sequential("classifier", x,
		func(name string, x nn.Value) nn.Value { return b.Dropout(name, x) },
		func(name string, x nn.Value) nn.Value { return b.Linear(name, x, lastChannel, numClasses, true) })
}

// v2Block is MobileNetV2's InvertedResidual: an optional 1x1 expansion,
// a 3x3 depthwise conv (both ReLU6), a 1x1 projection and its norm, all
// in the Sequential "conv", with the input added when the shape allows.
func v2Block(b *nn.Builder, name string, x nn.Value, in, out, stride, expand int64) nn.Value {
	const eps = 1e-5
	hidden := in * expand
	return b.Module(name, "InvertedResidual", func() nn.Value {
		y := b.Module("conv", "Sequential", func() nn.Value {
			y, i := x, 0
			if expand != 1 {
				y = convNormAct(b, "0", y, cna{in: in, out: hidden, kernel: 1, act: relu6, eps: eps})
				i++
			}
			y = convNormAct(b, itoa(i), y, cna{in: hidden, out: hidden, kernel: 3, stride: stride, groups: hidden, act: relu6, eps: eps})
			y = conv(b, itoa(i+1), y, hidden, out, 1, 1, 1)
			return b.BatchNorm2dEps(itoa(i+2), y, out, eps)
		})
		if stride == 1 && in == out {
			return b.Add("", x, y)
		}
		return y
	})
}
