package nn

import (
	"github.com/gozoo/gozoo/sdk"
)

// ConstInt64 adds a constant int64 tensor of the given shape (a 1-d
// tensor of len(vals) when shape is empty). It is a functional node: not
// a layer and not a state_dict entry. A shape whose size differs from
// len(vals) is a build error.
func (b *Builder) ConstInt64(vals []int64, shape ...int64) Value {
	flat := []int64{int64(len(vals))}
	if len(shape) == 0 {
		shape = flat
	}
	if sdk.NumElements(shape) != int64(len(vals)) {
		b.Failf("%s: constant of %d values cannot have shape %s", b.Path(""), len(vals), sdk.FormatShape(shape))
		return Value{b.placeholder()}
	}
	v := b.Node("", "", "Constant", nil, flat, Ints("value_ints", append([]int64(nil), vals...)...))
	v.t.dtype = sdk.Int64
	if len(shape) == 1 {
		return v
	}
	s := b.Node("", "", "Constant", nil, []int64{int64(len(shape))}, Ints("value_ints", append([]int64(nil), shape...)...))
	s.t.dtype = sdk.Int64
	return b.Node("", "", "Reshape", []Value{v, s}, shape)
}

// ConstFloat32 adds a constant float32 tensor of the given shape (1-d
// when shape is empty), as ConstInt64 does. It emits a few nodes per
// value: use it for a handful of values (per-channel scales), not for
// weights.
func (b *Builder) ConstFloat32(vals []float32, shape ...int64) Value {
	if len(shape) == 0 {
		shape = []int64{int64(len(vals))}
	}
	if sdk.NumElements(shape) != int64(len(vals)) || len(vals) == 0 {
		b.Failf("%s: constant of %d values cannot have shape %s", b.Path(""), len(vals), sdk.FormatShape(shape))
		return Value{b.placeholder()}
	}
	one := b.ConstInt64([]int64{1})
	parts := make([]Value, len(vals))
	for i, f := range vals {
		s := b.Node("", "", "Constant", nil, []int64{}, Float("value_float", f))
		parts[i] = b.Node("", "", "Reshape", []Value{s, one}, []int64{1})
	}
	v := parts[0]
	if len(parts) > 1 {
		v = b.Node("", "", "Concat", parts, []int64{int64(len(vals))}, Int("axis", 0))
	}
	if len(shape) == 1 {
		return v
	}
	return b.Node("", "", "Reshape", []Value{v, b.ConstInt64(shape)}, shape)
}

// castFloat32 converts an int64 value to float32 (a functional node).
func (b *Builder) castFloat32(x Value) Value {
	v := b.Node("", "", "Cast", []Value{x}, x.t.shape, Int("to", 1)) // TensorProto.FLOAT
	v.t.dtype = sdk.Float32
	return v
}

// ChannelAffine computes x * scale[c] + shift[c] for each channel c of an
// NCHW input, as module name (a functional op when name is empty): the
// per-channel arithmetic of torchvision's transform_input. The multiply
// and the add are separate float32 ops, in torch's order.
func (b *Builder) ChannelAffine(name string, x Value, scale, shift []float32) Value {
	const kind = "ChannelAffine"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	c := int64(len(scale))
	if len(shift) != len(scale) || (x.t.shape[1] >= 0 && x.t.shape[1] != c) {
		b.Failf("%s (%s): %d scales and %d shifts for input %s", b.Path(name), kind, len(scale), len(shift), sdk.FormatShape(x.t.shape))
		return Value{b.placeholder()}
	}
	s := b.ConstFloat32(scale, 1, c, 1, 1)
	t := b.ConstFloat32(shift, 1, c, 1, 1)
	m := b.Node("", "", "Mul", []Value{x, s}, x.t.shape)
	return b.Node(name, kind, "Add", []Value{m, t}, x.t.shape)
}
