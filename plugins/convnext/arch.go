package convnext

import (
	"strconv"

	"github.com/gozoo/gozoo/sdk/nn"
)

// arch is one torchvision ConvNeXt variant: the channels and blocks of
// its four stages (CNBlockConfig).
type arch struct {
	name   string
	dims   [4]int64
	depths [4]int
	doc    string
}

// archs lists the variants exactly as torchvision 0.14 defines them.
var archs = []arch{
	{"convnext_tiny", [4]int64{96, 192, 384, 768}, [4]int{3, 3, 9, 3}, "ConvNeXt-T"},
	{"convnext_small", [4]int64{96, 192, 384, 768}, [4]int{3, 3, 27, 3}, "ConvNeXt-S"},
	{"convnext_base", [4]int64{128, 256, 512, 1024}, [4]int{3, 3, 27, 3}, "ConvNeXt-B"},
	{"convnext_large", [4]int64{192, 384, 768, 1536}, [4]int{3, 3, 27, 3}, "ConvNeXt-L"},
}

// The eps of torchvision ConvNeXt's LayerNorms and LayerNorm2ds.
const lnEps = 1e-6

// layerScale is torchvision's layer_scale init.
const layerScale = 1e-6

// trunc is torchvision ConvNeXt's init of Conv2d and Linear weights,
// trunc_normal_(std=0.02), drawn here untruncated (a seeded init only).
var trunc = nn.Normal(0, 0.02)

// build records torchvision's ConvNeXt.forward for an input of the given
// shape ([N, 3, H, W], N -1) into a new Builder. Height and width are
// free in the graph.
func (a arch) build(numClasses int64, input []int64) *nn.Builder {
	b := nn.NewBuilder("ConvNeXt")
	x := b.Input(inputName, input, 0, 2, 3)
	d := a.dims
	x = b.Module("features", "Sequential", func() nn.Value {
		x = b.Module("0", "Conv2dNormActivation", func() nn.Value {
			y := b.Conv2d("0", x, nn.Conv2d{In: 3, Out: d[0], Kernel: nn.P(4), Stride: nn.P(4), Bias: true, WeightInit: trunc})
			return b.LayerNorm2d("1", y, d[0], lnEps)
		})
		for i := range 4 {
			x = b.Module(strconv.Itoa(2*i+1), "Sequential", func() nn.Value {
				for j := range a.depths[i] {
					x = block(b, strconv.Itoa(j), x, d[i])
				}
				return x
			})
			if i < 3 {
				x = b.Module(strconv.Itoa(2*i+2), "Sequential", func() nn.Value {
					y := b.LayerNorm2d("0", x, d[i], lnEps)
					return b.Conv2d("1", y, nn.Conv2d{In: d[i], Out: d[i+1], Kernel: nn.P(2), Stride: nn.P(2), Bias: true, WeightInit: trunc})
				})
			}
		}
		return x
	})
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(1))
	b.Module("classifier", "Sequential", func() nn.Value {
		y := b.LayerNorm2d("0", x, d[3], lnEps)
		y = b.Flatten("1", y)
		return b.Linear("2", y, d[3], numClasses, true)
	})
	return b
}

// block is torchvision's CNBlock in eval mode.
func block(b *nn.Builder, name string, x nn.Value, dim int64) nn.Value {
	return b.Module(name, "CNBlock", func() nn.Value {
		// The block's own parameter comes first in named_parameters.
		scale := b.Param("layer_scale", []int64{dim, 1, 1}, nn.Uniform(layerScale, layerScale))
		y := b.Module("block", "Sequential", func() nn.Value {
			h := b.Conv2d("0", x, nn.Conv2d{In: dim, Out: dim, Kernel: nn.P(7), Padding: nn.P(3), Groups: dim, Bias: true, WeightInit: trunc})
			h = b.Permute("1", h, 0, 2, 3, 1)
			h = b.LayerNorm("2", h, dim, lnEps)
			h = b.Linear("3", h, dim, 4*dim, true)
			h = b.GELU("4", h)
			h = b.Linear("5", h, 4*dim, dim, true)
			return b.Permute("6", h, 0, 3, 1, 2)
		})
		// result = layer_scale * block(x); StochasticDepth (the identity
		// in eval) outputs it; then result += x.
		y = b.Binary("stochastic_depth", "StochasticDepth", "Mul", scale, y)
		return b.Add("", y, x)
	})
}
