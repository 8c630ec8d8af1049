package classic

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// fire is one Fire module: inplanes, squeeze, expand1x1 and expand3x3
// planes.
type fire [4]int64

// squeezeNet1_0 and squeezeNet1_1 are the features of SqueezeNet's two
// versions: a stem conv (out, kernel), then Fire modules and max pools
// (a zero fire) in order.
var (
	squeezeNet1_0 = squeezeNet{stem: [2]int64{96, 7}, layers: []fire{
		{}, {96, 16, 64, 64}, {128, 16, 64, 64}, {128, 32, 128, 128}, {},
		{256, 32, 128, 128}, {256, 48, 192, 192}, {384, 48, 192, 192}, {384, 64, 256, 256}, {},
		{512, 64, 256, 256}}}
	squeezeNet1_1 = squeezeNet{stem: [2]int64{64, 3}, layers: []fire{
		{}, {64, 16, 64, 64}, {128, 16, 64, 64}, {},
		{128, 32, 128, 128}, {256, 32, 128, 128}, {},
		{256, 48, 192, 192}, {384, 48, 192, 192}, {384, 64, 256, 256}, {512, 64, 256, 256}}}
)

type squeezeNet struct {
	stem   [2]int64
	layers []fire
}

// build records torchvision's SqueezeNet: features (conv, ReLU, then
// Fire modules and ceil-mode max pools), the classifier (Dropout, a 1x1
// conv to the classes, ReLU, AdaptiveAvgPool2d((1, 1))) and
// torch.flatten, the net's output, as the layer "flatten".
func (s squeezeNet) build(b *nn.Builder, x nn.Value, numClasses int64) {
	x = b.Module("features", "Sequential", func() nn.Value {
		x = b.Conv2d("0", x, nn.Conv2d{In: 3, Out: s.stem[0], Kernel: nn.P(s.stem[1]), Stride: nn.P(2), Bias: true})
		x = b.ReLU("1", x)
		for i, f := range s.layers {
			if f == (fire{}) {
				x = b.MaxPool2d(itoa(i+2), x, nn.Pool{Kernel: nn.P(3), Stride: nn.P(2), CeilMode: true})
				continue
			}
			x = f.add(b, itoa(i+2), x)
		}
		return x
	})
	x = b.Sequential("classifier", x,
		func(name string, x nn.Value) nn.Value { return b.Dropout(name, x) },
		func(name string, x nn.Value) nn.Value {
			return b.Conv2d(name, x, nn.Conv2d{In: 512, Out: numClasses, Kernel: nn.P(1), Bias: true, WeightInit: nn.Normal(0, 0.01)})
		},
		func(name string, x nn.Value) nn.Value { return b.ReLU(name, x) },
		func(name string, x nn.Value) nn.Value { return avgPool(b, name, x) })
	flatten(b, x)
}

// add records a Fire module: squeeze (1x1) and its ReLU, then the
// concatenation of the 1x1 and 3x3 expansions, each after its ReLU.
func (f fire) add(b *nn.Builder, name string, x nn.Value) nn.Value {
	return b.Module(name, "Fire", func() nn.Value {
		x = b.Conv2d("squeeze", x, nn.Conv2d{In: f[0], Out: f[1], Kernel: nn.P(1), Bias: true})
		x = b.ReLU("squeeze_activation", x)
		e1 := b.Conv2d("expand1x1", x, nn.Conv2d{In: f[1], Out: f[2], Kernel: nn.P(1), Bias: true})
		e1 = b.ReLU("expand1x1_activation", e1)
		e3 := b.Conv2d("expand3x3", x, nn.Conv2d{In: f[1], Out: f[3], Kernel: nn.P(3), Padding: nn.P(1), Bias: true})
		e3 = b.ReLU("expand3x3_activation", e3)
		return b.Concat("", 1, e1, e3)
	})
}
