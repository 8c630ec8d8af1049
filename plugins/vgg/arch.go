package vgg

import (
	"strconv"

	"github.com/gozoo/gozoo/sdk/nn"
)

// pool marks a max-pooling step in a configuration ("M" in torchvision).
const pool = 0

// arch is one torchvision VGG variant.
type arch struct {
	name string
	cfg  []int64 // output channels of each conv, pool for a MaxPool2d
	bn   bool
	doc  string
}

var (
	cfgA = []int64{64, pool, 128, pool, 256, 256, pool, 512, 512, pool, 512, 512, pool}
	cfgB = []int64{64, 64, pool, 128, 128, pool, 256, 256, pool, 512, 512, pool, 512, 512, pool}
	cfgD = []int64{64, 64, pool, 128, 128, pool, 256, 256, 256, pool, 512, 512, 512, pool, 512, 512, 512, pool}
	cfgE = []int64{64, 64, pool, 128, 128, pool, 256, 256, 256, 256, pool, 512, 512, 512, 512, pool, 512, 512, 512, 512, pool}
)

// archs lists the variants exactly as torchvision 0.14 defines them.
var archs = []arch{
	{"vgg11", cfgA, false, "VGG-11 (configuration A)"},
	{"vgg11_bn", cfgA, true, "VGG-11 with BatchNorm"},
	{"vgg13", cfgB, false, "VGG-13 (configuration B)"},
	{"vgg13_bn", cfgB, true, "VGG-13 with BatchNorm"},
	{"vgg16", cfgD, false, "VGG-16 (configuration D)"},
	{"vgg16_bn", cfgD, true, "VGG-16 with BatchNorm"},
	{"vgg19", cfgE, false, "VGG-19 (configuration E)"},
	{"vgg19_bn", cfgE, true, "VGG-19 with BatchNorm"},
}

// convs returns the number of convolutions.
func (a arch) convs() int {
	n := 0
	for _, v := range a.cfg {
		if v != pool {
			n++
		}
	}
	return n
}

// convInit is torchvision VGG's conv init: kaiming_normal_(mode="fan_out",
// nonlinearity="relu"). Linear layers keep torch's default init.
var convInit = nn.Init{Kind: nn.InitKaimingNormalFanOut}

// build records torchvision's VGG.forward for an input of the given shape
// ([N, 3, H, W], N -1) into a new Builder. avgpool is
// AdaptiveAvgPool2d((7, 7)), whose windows depend on H and W, so the
// graphs of avgpool and the classifier differ between sizes (their
// GraphKeys tell) while those of features do not.
func (a arch) build(numClasses int64, inputShape []int64) *nn.Builder {
	b := nn.NewBuilder("VGG")
	x := b.Input(inputName, inputShape, 0, 2, 3)
	x = b.Module("features", "Sequential", func() nn.Value {
		i, in := 0, int64(3)
		next := func() string { s := strconv.Itoa(i); i++; return s }
		for _, v := range a.cfg {
			if v == pool {
				x = b.MaxPool2d(next(), x, nn.Pool{Kernel: nn.P(2), Stride: nn.P(2)})
				continue
			}
			x = b.Conv2d(next(), x, nn.Conv2d{In: in, Out: v, Kernel: nn.P(3), Padding: nn.P(1), Bias: true, WeightInit: convInit})
			if a.bn {
				x = b.BatchNorm2d(next(), x, v)
			}
			x = b.ReLU(next(), x)
			in = v
		}
		return x
	})
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(7))
	x = b.Flatten("", x) // torch.flatten(x, 1) in VGG.forward
	b.Module("classifier", "Sequential", func() nn.Value {
		x = b.Linear("0", x, 512*7*7, 4096, true)
		x = b.ReLU("1", x)
		x = b.Dropout("2", x)
		x = b.Linear("3", x, 4096, 4096, true)
		x = b.ReLU("4", x)
		x = b.Dropout("5", x)
		return b.Linear("6", x, 4096, numClasses, true)
	})
	return b
}
