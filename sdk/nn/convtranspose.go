package nn

import (
	"math"

	"github.com/gozoo/gozoo/sdk"
)

// ConvTranspose2d configures torch.nn.ConvTranspose2d (groups 1,
// dilation 1). Zero Stride means 1. Bias adds a bias (torch's default is
// true: write it out).
type ConvTranspose2d struct {
	In, Out       int64
	Kernel        Pair
	Stride        Pair
	Padding       Pair
	OutputPadding Pair
	Bias          bool
}

// ConvTranspose2d adds module name as a torch.nn.ConvTranspose2d. The
// output size is torch's (in-1)*stride - 2*padding + kernel +
// output_padding.
func (b *Builder) ConvTranspose2d(name string, x Value, c ConvTranspose2d) Value {
	const kind = "ConvTranspose2d"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	if ch := x.t.shape[1]; ch >= 0 && ch != c.In {
		b.Failf("%s (ConvTranspose2d) expects %d input channels, got %s", b.Path(name), c.In, sdk.FormatShape(x.t.shape))
	}
	k, s, p, op := c.Kernel, c.Stride.or(1), c.Padding, c.OutputPadding
	for i := 0; i < 2; i++ {
		if op[i] >= s[i] {
			b.Failf("%s (ConvTranspose2d): output_padding %d must be smaller than stride %d", b.Path(name), op[i], s[i])
		}
	}
	shape := []int64{x.t.shape[0], c.Out, -1, -1}
	for i := 0; i < 2; i++ {
		if in := x.t.shape[2+i]; in >= 0 {
			shape[2+i] = (in-1)*s[i] - 2*p[i] + k[i] + op[i]
			if shape[2+i] < 1 {
				b.Failf("%s (ConvTranspose2d): input %s gives an empty output", b.Path(name), sdk.FormatShape(x.t.shape))
				shape[2+i] = 1
			}
		}
	}
	wshape := []int64{c.In, c.Out, k[0], k[1]}
	inputs := b.Within(name, func() []Value {
		w := b.Param("weight", wshape, Init{Kind: InitKaimingUniform})
		if !c.Bias {
			return []Value{x, w}
		}
		fi, _ := fans(wshape)
		bound := 1 / math.Sqrt(fi)
		return []Value{x, w, b.Param("bias", []int64{c.Out}, Uniform(-bound, bound))}
	})
	return b.Node(name, kind, "ConvTranspose", inputs, shape,
		Ints("kernel_shape", k[0], k[1]), Ints("strides", s[0], s[1]),
		Ints("pads", p[0], p[1], p[0], p[1]), Ints("output_padding", op[0], op[1]))
}
