package resnet

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// arch is one torchvision ResNet variant.
type arch struct {
	name          string
	bottleneck    bool
	layers        [4]int
	groups        int64
	widthPerGroup int64
	doc           string
	// base is the channel count of conv1 and layer1 (planes of layer1);
	// the stages use base, 2*base, 4*base, 8*base. Zero means
	// torchvision's 64; the "width" option sets it for small models.
	base int64
}

// baseWidth returns a.base, or torchvision's 64 when unset.
func (a arch) baseWidth() int64 {
	if a.base > 0 {
		return a.base
	}
	return 64
}

// archs lists the variants exactly as torchvision 0.14 defines them.
var archs = []arch{
	{"resnet18", false, [4]int{2, 2, 2, 2}, 1, 64, "ResNet-18 (BasicBlock)", 0},
	{"resnet34", false, [4]int{3, 4, 6, 3}, 1, 64, "ResNet-34 (BasicBlock)", 0},
	{"resnet50", true, [4]int{3, 4, 6, 3}, 1, 64, "ResNet-50 (Bottleneck)", 0},
	{"resnet101", true, [4]int{3, 4, 23, 3}, 1, 64, "ResNet-101 (Bottleneck)", 0},
	{"resnet152", true, [4]int{3, 8, 36, 3}, 1, 64, "ResNet-152 (Bottleneck)", 0},
	{"resnext50_32x4d", true, [4]int{3, 4, 6, 3}, 32, 4, "ResNeXt-50 32x4d", 0},
	{"resnext101_32x8d", true, [4]int{3, 4, 23, 3}, 32, 8, "ResNeXt-101 32x8d", 0},
	{"wide_resnet50_2", true, [4]int{3, 4, 6, 3}, 1, 128, "Wide ResNet-50-2", 0},
	{"wide_resnet101_2", true, [4]int{3, 4, 23, 3}, 1, 128, "Wide ResNet-101-2", 0},
}

func (a arch) expansion() int64 {
	if a.bottleneck {
		return 4
	}
	return 1
}

// convInit is torchvision ResNet's conv init:
// kaiming_normal_(mode="fan_out", nonlinearity="relu").
var convInit = nn.Init{Kind: nn.InitKaimingNormalFanOut}

// build records torchvision's ResNet.forward for an input of the given
// shape ([N, 3, H, W], N -1) into a new Builder.
func (a arch) build(numClasses int64, inputShape []int64) *nn.Builder {
	b := nn.NewBuilder("ResNet")
	x := b.Input(inputName, inputShape, 0, 2, 3)
	w := a.baseWidth()
	x = b.Conv2d("conv1", x, nn.Conv2d{In: 3, Out: w, Kernel: nn.P(7), Stride: nn.P(2), Padding: nn.P(3), WeightInit: convInit})
	x = b.BatchNorm2d("bn1", x, w)
	x = b.ReLU("relu", x)
	x = b.MaxPool2d("maxpool", x, nn.Pool{Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1)})
	inplanes := w
	for i, planes := range []int64{w, 2 * w, 4 * w, 8 * w} {
		stride := int64(2)
		if i == 0 {
			stride = 1
		}
		x = a.makeLayer(b, "layer"+string(rune('1'+i)), x, &inplanes, planes, a.layers[i], stride)
	}
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(1))
	x = b.Flatten("", x) // torch.flatten(x, 1) in ResNet.forward
	b.Linear("fc", x, 8*w*a.expansion(), numClasses, true)
	return b
}

// makeLayer is ResNet._make_layer.
func (a arch) makeLayer(b *nn.Builder, name string, x nn.Value, inplanes *int64, planes int64, blocks int, stride int64) nn.Value {
	return b.Module(name, "Sequential", func() nn.Value {
		for i := 0; i < blocks; i++ {
			s := int64(1)
			down := false
			if i == 0 {
				s = stride
				down = stride != 1 || *inplanes != planes*a.expansion()
			}
			x = a.block(b, itoa(i), x, *inplanes, planes, s, down)
			*inplanes = planes * a.expansion()
		}
		return x
	})
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}

// block is BasicBlock or Bottleneck. Each block calls its single relu
// module two (BasicBlock) or three (Bottleneck) times; the layer
// "<block>.relu" is the last call's output, which equals the block's.
func (a arch) block(b *nn.Builder, name string, x nn.Value, inplanes, planes, stride int64, down bool) nn.Value {
	kind := "BasicBlock"
	if a.bottleneck {
		kind = "Bottleneck"
	}
	return b.Module(name, kind, func() nn.Value {
		identity := x
		var out nn.Value
		outC := planes * a.expansion()
		if !a.bottleneck {
			out = b.Conv2d("conv1", x, nn.Conv2d{In: inplanes, Out: planes, Kernel: nn.P(3), Stride: nn.P(stride), Padding: nn.P(1), WeightInit: convInit})
			out = b.BatchNorm2d("bn1", out, planes)
			out = b.ReLU("relu", out)
			out = b.Conv2d("conv2", out, nn.Conv2d{In: planes, Out: planes, Kernel: nn.P(3), Padding: nn.P(1), WeightInit: convInit})
			out = b.BatchNorm2d("bn2", out, planes)
		} else {
			width := planes * a.widthPerGroup / 64 * a.groups
			out = b.Conv2d("conv1", x, nn.Conv2d{In: inplanes, Out: width, Kernel: nn.P(1), WeightInit: convInit})
			out = b.BatchNorm2d("bn1", out, width)
			out = b.ReLU("relu", out)
			out = b.Conv2d("conv2", out, nn.Conv2d{In: width, Out: width, Kernel: nn.P(3), Stride: nn.P(stride), Padding: nn.P(1), Groups: a.groups, WeightInit: convInit})
			out = b.BatchNorm2d("bn2", out, width)
			out = b.ReLU("relu", out)
			out = b.Conv2d("conv3", out, nn.Conv2d{In: width, Out: outC, Kernel: nn.P(1), WeightInit: convInit})
			out = b.BatchNorm2d("bn3", out, outC)
		}
		if down {
			identity = b.Module("downsample", "Sequential", func() nn.Value {
				d := b.Conv2d("0", x, nn.Conv2d{In: inplanes, Out: outC, Kernel: nn.P(1), Stride: nn.P(stride), WeightInit: convInit})
				return b.BatchNorm2d("1", d, outC)
			})
		}
		out = b.Add("", out, identity) // out += identity
		return b.ReLU("relu", out)
	})
}
