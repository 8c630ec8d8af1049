package nn

import (
	"github.com/gozoo/gozoo/sdk"
)

// BatchNorm2dEps adds module name as a torch.nn.BatchNorm2d over c
// channels in eval mode with the given eps (torchvision's Inception and
// GoogLeNet use 0.001); BatchNorm2d is this with eps 1e-5.
func (b *Builder) BatchNorm2dEps(name string, x Value, c int64, eps float32) Value {
	const kind = "BatchNorm2d"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	if ch := x.t.shape[1]; ch >= 0 && ch != c {
		b.Failf("%s (BatchNorm2d) expects %d channels, got %s", b.Path(name), c, sdk.FormatShape(x.t.shape))
	}
	inputs := b.Within(name, func() []Value {
		w := b.Param("weight", []int64{c}, Init{Kind: InitOnes})
		bias := b.Param("bias", []int64{c}, Init{Kind: InitZeros})
		mean := b.Buffer("running_mean", []int64{c}, Init{Kind: InitZeros})
		v := b.Buffer("running_var", []int64{c}, Init{Kind: InitOnes})
		b.StateOnly("num_batches_tracked", nil, sdk.Int64, true)
		return []Value{x, w, bias, mean, v}
	})
	return b.Node(name, kind, "BatchNormalization", inputs, x.t.shape, Float("epsilon", eps))
}
