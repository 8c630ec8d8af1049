package nn

import "github.com/gozoo/gozoo/sdk"

// LayerNorm2d adds module name as torchvision's LayerNorm2d(c, eps): a
// torch.nn.LayerNorm over the channels of an NCHW x, computed as
// torchvision does, x.permute(0, 2, 3, 1), layer_norm over the last
// dimension, and the permutation back (ConvNeXt's stem, downsampling and
// classifier norms). Its parameters are NAME.weight and NAME.bias [c].
func (b *Builder) LayerNorm2d(name string, x Value, c int64, eps float32) Value {
	const kind = "LayerNorm2d"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	if ch := x.t.shape[1]; ch >= 0 && ch != c {
		b.Failf("%s (LayerNorm2d) normalises %d channels, got %s", b.Path(name), c, sdk.FormatShape(x.t.shape))
	}
	params := b.Within(name, func() []Value {
		return []Value{b.Param("weight", []int64{c}, Init{Kind: InitOnes}), b.Param("bias", []int64{c}, Init{Kind: InitZeros})}
	})
	last := b.Transpose("", "", x, 0, 2, 3, 1)
	y := b.Node("", "", "LayerNormalization", []Value{last, params[0], params[1]}, last.t.shape, Int("axis", -1), Float("epsilon", eps))
	return b.Transpose(name, kind, y, 0, 3, 1, 2)
}

// Permute adds module name as torchvision's ops.misc.Permute(dims), a
// view of x with its dimensions permuted (torch.permute).
func (b *Builder) Permute(name string, x Value, dims ...int64) Value {
	return b.Transpose(name, "Permute", x, dims...)
}
