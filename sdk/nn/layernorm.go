package nn

import (
	"math"

	"github.com/gozoo/gozoo/sdk"
)

// LayerNorm adds module name as a torch.nn.LayerNorm(dim, eps) over the
// last dimension of x, with its affine weight and bias (ONNX
// LayerNormalization, which normalises in float32 as torch does).
// torch's default eps is 1e-5; torchvision's ViT uses 1e-6.
func (b *Builder) LayerNorm(name string, x Value, dim int64, eps float32) Value {
	const kind = "LayerNorm"
	if x.t == nil || len(x.t.shape) < 1 {
		b.Failf("%s (LayerNorm): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	if last := x.t.shape[len(x.t.shape)-1]; last >= 0 && last != dim {
		b.Failf("%s (LayerNorm) normalises %d features, got %s", b.Path(name), dim, sdk.FormatShape(x.t.shape))
	}
	inputs := b.Within(name, func() []Value {
		w := b.Param("weight", []int64{dim}, Init{Kind: InitOnes})
		bias := b.Param("bias", []int64{dim}, Init{Kind: InitZeros})
		return []Value{x, w, bias}
	})
	return b.Node(name, kind, "LayerNormalization", inputs, x.t.shape, Int("axis", -1), Float("epsilon", eps))
}

// GELU adds module name as a torch.nn.GELU() (approximate="none"), or
// torch.nn.functional.gelu when name is empty: x * 0.5 * (1 + erf(x /
// sqrt(2))), with the exact erf as torch computes it.
func (b *Builder) GELU(name string, x Value) Value {
	if x.t == nil {
		b.Failf("%s (GELU): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	e := b.Node("", "", "Erf", []Value{b.Mul(x, b.ConstFloat(float32(1/math.Sqrt2)))}, x.t.shape)
	half := b.Mul(x, b.ConstFloat(0.5))
	return b.Binary(name, "GELU", "Mul", half, b.Plus(e, b.ConstFloat(1)))
}

// Softmax adds module name as a torch.nn.Softmax(dim=axis), or
// torch.softmax(x, axis) when name is empty.
func (b *Builder) Softmax(name string, x Value, axis int) Value {
	if x.t == nil {
		b.Failf("%s (Softmax): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	axis = b.normAxis(b.Path(name)+" (Softmax)", axis, len(x.t.shape))
	return b.Node(name, "Softmax", "Softmax", []Value{x}, x.t.shape, Int("axis", int64(axis)))
}
