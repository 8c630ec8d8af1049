package classic

import (
	"fmt"
	"regexp"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// denseNet is one DenseNet configuration (bn_size is 4 in every
// torchvision variant).
type denseNet struct {
	growth, initFeatures int64
	blocks               [4]int
}

const denseBNSize = 4

// convInit is torchvision DenseNet's conv init, kaiming_normal_ (fan_in);
// the seeded init draws fan_out's, the nearest nn offers: an init only.
var convInit = nn.Init{Kind: nn.InitKaimingNormalFanOut}

// build records torchvision's DenseNet: features (conv0, norm0, relu0,
// pool0, dense blocks and transitions, norm5), then torchvision's
// functional relu, adaptive_avg_pool2d and flatten as layers named as
// torch.fx names them, then the classifier.
func (d denseNet) build(b *nn.Builder, x nn.Value, numClasses int64) {
	n := d.initFeatures
	x = b.Module("features", "Sequential", func() nn.Value {
		x = b.Conv2d("conv0", x, nn.Conv2d{In: 3, Out: n, Kernel: nn.P(7), Stride: nn.P(2), Padding: nn.P(3), WeightInit: convInit})
		x = b.BatchNorm2d("norm0", x, n)
		x = b.ReLU("relu0", x)
		x = b.MaxPool2d("pool0", x, nn.Pool{Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1)})
		for i, layers := range d.blocks {
			x = d.block(b, fmt.Sprintf("denseblock%d", i+1), x, n, layers)
			n += int64(layers) * d.growth
			if i < len(d.blocks)-1 {
				x = b.Module(fmt.Sprintf("transition%d", i+1), "_Transition", func() nn.Value {
					y := b.BatchNorm2d("norm", x, n)
					y = b.ReLU("relu", y)
					y = b.Conv2d("conv", y, nn.Conv2d{In: n, Out: n / 2, Kernel: nn.P(1), WeightInit: convInit})
					return b.AvgPool2d("pool", y, nn.Pool{Kernel: nn.P(2), Stride: nn.P(2), CountIncludePad: true})
				})
				n /= 2
			}
		}
		return b.BatchNorm2d("norm5", x, n)
	})
	x = b.ReLU("relu", x) // F.relu(features) in DenseNet.forward
	x = b.ReduceMean("adaptive_avg_pool2d", "adaptive_avg_pool2d", x, true, 2, 3)
	x = flatten(b, x)
	b.Linear("classifier", x, n, numClasses, true)
}

// block records a _DenseBlock of layers _DenseLayers: each takes the
// concatenation of the block's input and every earlier layer's output
// (norm1, relu1, 1x1 conv1 to bn_size*growth channels, norm2, relu2, 3x3
// conv2 to growth channels); the block returns the concatenation of all.
func (d denseNet) block(b *nn.Builder, name string, x nn.Value, in int64, layers int) nn.Value {
	return b.Module(name, "_DenseBlock", func() nn.Value {
		mid := denseBNSize * d.growth
		for i := range layers {
			c := in + int64(i)*d.growth
			y := b.Module(fmt.Sprintf("denselayer%d", i+1), "_DenseLayer", func() nn.Value {
				y := b.BatchNorm2d("norm1", x, c)
				y = b.ReLU("relu1", y)
				y = b.Conv2d("conv1", y, nn.Conv2d{In: c, Out: mid, Kernel: nn.P(1), WeightInit: convInit})
				y = b.BatchNorm2d("norm2", y, mid)
				y = b.ReLU("relu2", y)
				return b.Conv2d("conv2", y, nn.Conv2d{In: mid, Out: d.growth, Kernel: nn.P(3), Padding: nn.P(1), WeightInit: convInit})
			})
			x = b.Concat("", 1, x, y)
		}
		return x
	})
}

// legacyKey matches the keys of DenseNet checkpoints saved before torch
// 0.4 allowed dots in module names ("denselayer1.norm.1.weight" for
// "denselayer1.norm1.weight"): torchvision's own pattern, which it applies
// to every checkpoint it downloads.
var legacyKey = regexp.MustCompile(`^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$`)

// adaptDenseNet renames legacy keys as torchvision's _load_state_dict
// does; a renamed key replaces a new-style one of the same name, as
// there.
func adaptDenseNet(sd map[string]*sdk.Tensor) (map[string]*sdk.Tensor, error) {
	for k, t := range sd {
		if m := legacyKey.FindStringSubmatch(k); m != nil {
			sd[m[1]+m[2]] = t
			delete(sd, k)
		}
	}
	return sd, nil
}
