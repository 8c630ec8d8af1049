package swin

import (
	"strconv"

	"github.com/gozoo/gozoo/sdk/nn"
)

// arch is one torchvision SwinTransformer (v1) variant.
type arch struct {
	name   string
	embed  int64    // embed_dim
	depths [4]int   // blocks per stage
	heads  [4]int64 // attention heads per stage
	doc    string
}

// archs lists the variants exactly as torchvision 0.14 defines them.
var archs = []arch{
	{"swin_t", 96, [4]int{2, 2, 6, 2}, [4]int64{3, 6, 12, 24}, "Swin-T"},
	{"swin_s", 96, [4]int{2, 2, 18, 2}, [4]int64{3, 6, 12, 24}, "Swin-S"},
	{"swin_b", 128, [4]int{2, 2, 18, 2}, [4]int64{4, 8, 16, 32}, "Swin-B"},
}

// patch and window are torchvision's patch_size [4, 4] and window_size
// [7, 7] for every variant; mlpRatio is its mlp_ratio.
const (
	patch    = 4
	window   = 7
	mlpRatio = 4
)

// lnEps is the eps of torchvision Swin's LayerNorms (torch's default).
const lnEps = 1e-5

// trunc is torchvision Swin's init of Linear weights,
// trunc_normal_(std=0.02), drawn here untruncated (a seeded init only).
var trunc = nn.Normal(0, 0.02)

// build records torchvision's SwinTransformer.forward for an input of the
// given shape ([N, 3, H, W], N -1) into a new Builder. The graph is for
// this H and W: windows, padding and shifts depend on them.
func (a arch) build(numClasses int64, input []int64) *nn.Builder {
	b := nn.NewBuilder("SwinTransformer")
	x := b.Input(inputName, input, 0)
	x = b.Module("features", "Sequential", func() nn.Value {
		x = b.Module("0", "Sequential", func() nn.Value {
			y := b.Conv2d("0", x, nn.Conv2d{In: 3, Out: a.embed, Kernel: nn.P(patch), Stride: nn.P(patch), Bias: true, WeightInit: trunc})
			y = b.Permute("1", y, 0, 2, 3, 1)
			return b.LayerNorm("2", y, a.embed, lnEps)
		})
		for i := range 4 {
			dim := a.embed << i
			x = b.Module(strconv.Itoa(2*i+1), "Sequential", func() nn.Value {
				for j := range a.depths[i] {
					shift := int64(0)
					if j%2 == 1 {
						shift = window / 2
					}
					x = block(b, strconv.Itoa(j), x, dim, a.heads[i], shift)
				}
				return x
			})
			if i < 3 {
				x = merge(b, strconv.Itoa(2*i+2), x, dim)
			}
		}
		return x
	})
	c := a.embed << 3
	x = b.LayerNorm("norm", x, c, lnEps)
	x = b.Permute("permute", x, 0, 3, 1, 2)
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(1))
	x = b.Flatten("flatten", x)
	b.Linear("head", x, c, numClasses, true)
	return b
}

// block is torchvision's SwinTransformerBlock in eval mode: pre-norm
// shifted window attention and MLP, each with a residual connection.
func block(b *nn.Builder, name string, x nn.Value, dim, heads, shift int64) nn.Value {
	return b.Module(name, "SwinTransformerBlock", func() nn.Value {
		h := b.LayerNorm("norm1", x, dim, lnEps)
		h = b.ShiftedWindowAttention("attn", h, nn.WindowAttention{Dim: dim, NumHeads: heads, Window: nn.P(window), Shift: nn.P(shift)})
		h = b.Alias("stochastic_depth", "StochasticDepth", h)
		x = b.Add("", x, h)
		y := b.LayerNorm("norm2", x, dim, lnEps)
		y = b.Module("mlp", "MLP", func() nn.Value {
			y = b.Linear("0", y, dim, mlpRatio*dim, true)
			y = b.GELU("1", y)
			y = b.Dropout("2", y)
			y = b.Linear("3", y, mlpRatio*dim, dim, true)
			return b.Dropout("4", y)
		})
		y = b.Alias("stochastic_depth", "StochasticDepth", y)
		return b.Add("", x, y)
	})
}

// merge is torchvision's PatchMerging: 2x2 patches concatenated
// (nn.MergePatches), LayerNorm(4*dim), Linear(4*dim, 2*dim, bias=False).
func merge(b *nn.Builder, name string, x nn.Value, dim int64) nn.Value {
	return b.Module(name, "PatchMerging", func() nn.Value {
		// PatchMerging registers reduction before norm: declare its
		// weight first, as named_parameters lists it.
		b.Within("reduction", func() []nn.Value {
			return []nn.Value{b.Param("weight", []int64{2 * dim, 4 * dim}, trunc)}
		})
		y := b.LayerNorm("norm", b.MergePatches(x), 4*dim, lnEps)
		return b.Linear("reduction", y, 4*dim, 2*dim, false)
	})
}
