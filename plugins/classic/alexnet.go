package classic

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// alexnet records torchvision's AlexNet: features (five convs with ReLU,
// three max pools), avgpool (AdaptiveAvgPool2d((6, 6)), whose windows
// depend on the input size), torch.flatten (a layer named "flatten", as
// torch.fx names it) and the classifier (Dropout, Linear, ReLU, Dropout,
// Linear, ReLU, Linear).
func alexnet(b *nn.Builder, x nn.Value, numClasses int64) {
	type conv struct{ in, out, kernel, stride, pad int64 }
	convs := []conv{{3, 64, 11, 4, 2}, {64, 192, 5, 1, 2}, {192, 384, 3, 1, 1}, {384, 256, 3, 1, 1}, {256, 256, 3, 1, 1}}
	pool := nn.Pool{Kernel: nn.P(3), Stride: nn.P(2)}
	x = b.Module("features", "Sequential", func() nn.Value {
		i := 0
		for j, c := range convs {
			x = b.Conv2d(itoa(i), x, nn.Conv2d{In: c.in, Out: c.out, Kernel: nn.P(c.kernel), Stride: nn.P(c.stride), Padding: nn.P(c.pad), Bias: true})
			x = b.ReLU(itoa(i+1), x)
			i += 2
			if j < 2 || j == len(convs)-1 {
				x = b.MaxPool2d(itoa(i), x, pool)
				i++
			}
		}
		return x
	})
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(6))
	x = flatten(b, x)
	b.Sequential("classifier", x,
		func(name string, x nn.Value) nn.Value { return b.Dropout(name, x) },
		func(name string, x nn.Value) nn.Value { return b.Linear(name, x, 256*6*6, 4096, true) },
		func(name string, x nn.Value) nn.Value { return b.ReLU(name, x) },
		func(name string, x nn.Value) nn.Value { return b.Dropout(name, x) },
		func(name string, x nn.Value) nn.Value { return b.Linear(name, x, 4096, 4096, true) },
		func(name string, x nn.Value) nn.Value { return b.ReLU(name, x) },
		func(name string, x nn.Value) nn.Value { return b.Linear(name, x, 4096, numClasses, true) })
}
