package nn

import (
	"strconv"

	"github.com/gozoo/gozoo/sdk"
)

// ONNX TensorProto element types used by Cast.
const (
	onnxFloat = 1
	onnxInt64 = 7
)

// InputInt64 adds an int64 graph input, such as token ids or per-sequence
// lengths. shape and dynamic are as for Input.
func (b *Builder) InputInt64(name string, shape []int64, dynamic ...int) Value {
	v := b.Input(name, shape, dynamic...)
	v.t.dtype = sdk.Int64
	return v
}

// typed adds a node like Node and gives its output the element type dt.
func (b *Builder) typed(name, kind, op string, dt sdk.DType, inputs []Value, shape []int64, attrs ...Attr) Value {
	v := b.Node(name, kind, op, inputs, shape, attrs...)
	v.t.dtype = dt
	return v
}

// ConstInts adds a constant 1-d int64 tensor holding vals.
func (b *Builder) ConstInts(vals ...int64) Value {
	return b.typed("", "", "Constant", sdk.Int64, nil, []int64{int64(len(vals))}, Ints("value_ints", vals...))
}

// ConstInt adds a constant int64 scalar.
func (b *Builder) ConstInt(v int64) Value {
	return b.typed("", "", "Constant", sdk.Int64, nil, nil, Int("value_int", v))
}

// ConstFloat adds a constant float32 scalar.
func (b *Builder) ConstFloat(v float32) Value {
	return b.typed("", "", "Constant", sdk.Float32, nil, nil, Float("value_float", v))
}

// broadcastShape is numpy's broadcast of two shapes; -1 is an unknown
// dimension.
func (b *Builder) broadcastShape(what string, x, y []int64) []int64 {
	n := max(len(x), len(y))
	out := make([]int64, n)
	for i := 0; i < n; i++ {
		dx, dy := int64(1), int64(1)
		if j := i - (n - len(x)); j >= 0 {
			dx = x[j]
		}
		if j := i - (n - len(y)); j >= 0 {
			dy = y[j]
		}
		switch {
		case dx == dy:
			out[i] = dx
		case dx == 1:
			out[i] = dy
		case dy == 1:
			out[i] = dx
		case dx < 0:
			out[i] = dy
		case dy < 0:
			out[i] = dx
		default:
			b.Failf("%s: cannot broadcast %s and %s", what, sdk.FormatShape(x), sdk.FormatShape(y))
			out[i] = dx
		}
	}
	return out
}

// Binary adds an elementwise op with numpy broadcasting: op is one of
// ONNX's Add, Sub, Mul, Div (float results) or Less, Equal (boolean
// results, usable only as inputs of other nodes such as Cast). With a
// non-empty name the node is module name of class kind; with an empty name
// it is a functional op.
func (b *Builder) Binary(name, kind, op string, x, y Value) Value {
	if x.t == nil || y.t == nil {
		b.Failf("%s (%s): missing input", b.Path(name), op)
		return Value{b.placeholder()}
	}
	shape := b.broadcastShape(b.Path(name)+" ("+op+")", x.t.shape, y.t.shape)
	return b.Node(name, kind, op, []Value{x, y}, shape)
}

// Mul is the functional x * y with broadcasting.
func (b *Builder) Mul(x, y Value) Value { return b.Binary("", "", "Mul", x, y) }

// Sub is the functional x - y with broadcasting.
func (b *Builder) Sub(x, y Value) Value { return b.Binary("", "", "Sub", x, y) }

// Div is the functional x / y with broadcasting.
func (b *Builder) Div(x, y Value) Value { return b.Binary("", "", "Div", x, y) }

// Plus is the functional x + y with broadcasting (Add demands equal
// shapes).
func (b *Builder) Plus(x, y Value) Value { return b.Binary("", "", "Add", x, y) }

// Cast adds a functional cast to float32 or int64.
func (b *Builder) Cast(x Value, to sdk.DType) Value {
	code := int64(onnxFloat)
	if to == sdk.Int64 {
		code = onnxInt64
	}
	if x.t == nil {
		b.Failf("%s (Cast): missing input", b.Path(""))
		return Value{b.placeholder()}
	}
	return b.typed("", "", "Cast", to, []Value{x}, x.t.shape, Int("to", code))
}

// Act adds a functional activation: op is an ONNX unary op such as
// Sigmoid, Tanh or Relu.
func (b *Builder) Act(op string, x Value) Value {
	if x.t == nil {
		b.Failf("%s (%s): missing input", b.Path(""), op)
		return Value{b.placeholder()}
	}
	return b.Node("", "", op, []Value{x}, x.t.shape)
}

// normAxis returns axis in [0, rank), recording a build error when it is
// out of range.
func (b *Builder) normAxis(what string, axis, rank int) int {
	if axis < 0 {
		axis += rank
	}
	if axis < 0 || axis >= rank {
		b.Failf("%s: axis %d out of range for rank %d", what, axis, rank)
		return 0
	}
	return axis
}

// Transpose permutes the dimensions of x as module name (class kind), or
// as torch's x.permute when name is empty.
func (b *Builder) Transpose(name, kind string, x Value, perm ...int64) Value {
	if x.t == nil || len(perm) != len(x.t.shape) {
		b.Failf("%s (Transpose): permutation %v does not fit the input", b.Path(name), perm)
		return Value{b.placeholder()}
	}
	shape := make([]int64, len(perm))
	for i, p := range perm {
		if p < 0 || int(p) >= len(perm) {
			b.Failf("%s (Transpose): bad permutation %v", b.Path(name), perm)
			return Value{b.placeholder()}
		}
		shape[i] = x.t.shape[p]
	}
	return b.Node(name, kind, "Transpose", []Value{x}, shape, Ints("perm", perm...))
}

// Unsqueeze inserts size-1 dimensions at axes (of the output), as torch's
// x.unsqueeze.
func (b *Builder) Unsqueeze(x Value, axes ...int64) Value {
	if x.t == nil {
		b.Failf("%s (Unsqueeze): missing input", b.Path(""))
		return Value{b.placeholder()}
	}
	rank := len(x.t.shape) + len(axes)
	ins := map[int]bool{}
	for _, a := range axes {
		ins[b.normAxis(b.Path("")+" (Unsqueeze)", int(a), rank)] = true
	}
	shape := make([]int64, 0, rank)
	j := 0
	for i := 0; i < rank; i++ {
		if ins[i] {
			shape = append(shape, 1)
			continue
		}
		if j < len(x.t.shape) {
			shape = append(shape, x.t.shape[j])
		}
		j++
	}
	out := b.Node("", "", "Unsqueeze", []Value{x, b.ConstInts(axes...)}, shape)
	out.t.dtype = x.t.dtype
	return out
}

// Take returns x[..., i, ...] along axis (torch's x.select(axis, i)), a
// functional Gather with a scalar index, which drops the axis.
func (b *Builder) Take(x Value, axis int, i int64) Value {
	if x.t == nil {
		b.Failf("%s (Gather): missing input", b.Path(""))
		return Value{b.placeholder()}
	}
	axis = b.normAxis(b.Path("")+" (Gather)", axis, len(x.t.shape))
	shape := append(append([]int64(nil), x.t.shape[:axis]...), x.t.shape[axis+1:]...)
	out := b.Node("", "", "Gather", []Value{x, b.ConstInt(i)}, shape, Int("axis", int64(axis)))
	out.t.dtype = x.t.dtype
	return out
}

// Split cuts x along axis into n equal parts (torch's x.chunk(n, axis)).
func (b *Builder) Split(x Value, axis, n int) []Value {
	if x.t == nil || n < 1 {
		b.Failf("%s (Split): missing input", b.Path(""))
		out := make([]Value, max(n, 0))
		for i := range out {
			out[i] = Value{b.placeholder()}
		}
		return out
	}
	axis = b.normAxis(b.Path("")+" (Split)", axis, len(x.t.shape))
	shape := append([]int64(nil), x.t.shape...)
	if d := shape[axis]; d >= 0 {
		if d%int64(n) != 0 {
			b.Failf("%s (Split): dimension %d of %s is not divisible by %d", b.Path(""), axis, sdk.FormatShape(x.t.shape), n)
		}
		shape[axis] = d / int64(n)
	}
	b.anon++
	base := b.Path("") + "/Split_" + strconv.Itoa(b.anon)
	nd := &node{op: "Split", inputs: []*tensor{x.t}, attrs: []Attr{Int("axis", int64(axis))}}
	out := make([]Value, n)
	for i := range out {
		t := &tensor{name: base + ":" + strconv.Itoa(i), shape: append([]int64(nil), shape...), dtype: x.t.dtype}
		nd.outputs = append(nd.outputs, t)
		out[i] = Value{t}
	}
	b.nodes = append(b.nodes, nd)
	return out
}

// MatMul is the functional torch.matmul(x, y) for a y of rank 2.
func (b *Builder) MatMul(x, y Value) Value {
	if x.t == nil || y.t == nil || len(y.t.shape) != 2 || len(x.t.shape) < 1 {
		b.Failf("%s (MatMul): want x of rank 1 or more and a 2-d y", b.Path(""))
		return Value{b.placeholder()}
	}
	sh := x.t.shape
	if k := sh[len(sh)-1]; k >= 0 && y.t.shape[0] >= 0 && k != y.t.shape[0] {
		b.Failf("%s (MatMul): cannot multiply %s by %s", b.Path(""), sdk.FormatShape(sh), sdk.FormatShape(y.t.shape))
	}
	shape := append(append([]int64(nil), sh[:len(sh)-1]...), y.t.shape[1])
	return b.Node("", "", "MatMul", []Value{x, y}, shape)
}

// reduce adds ReduceSum or ReduceMean over axes as module name (or a
// functional op when name is empty).
func (b *Builder) reduce(name, kind, op string, x Value, keep bool, axes ...int64) Value {
	if x.t == nil {
		b.Failf("%s (%s): missing input", b.Path(name), op)
		return Value{b.placeholder()}
	}
	drop := map[int]bool{}
	for _, a := range axes {
		drop[b.normAxis(b.Path(name)+" ("+op+")", int(a), len(x.t.shape))] = true
	}
	var shape []int64
	for i, d := range x.t.shape {
		switch {
		case !drop[i]:
			shape = append(shape, d)
		case keep:
			shape = append(shape, 1)
		}
	}
	attrs := []Attr{Int("keepdims", boolInt(keep))}
	if op == "ReduceSum" {
		// ReduceSum takes its axes as an input from opset 13.
		return b.Node(name, kind, op, []Value{x, b.ConstInts(axes...)}, shape, attrs...)
	}
	// ReduceMean takes them as an attribute up to opset 17.
	return b.Node(name, kind, op, []Value{x}, shape, append(attrs, Ints("axes", axes...))...)
}

// ReduceSum sums x over axes as module name (class kind), or as torch's
// x.sum(axes) when name is empty.
func (b *Builder) ReduceSum(name, kind string, x Value, keep bool, axes ...int64) Value {
	return b.reduce(name, kind, "ReduceSum", x, keep, axes...)
}

// ReduceMean averages x over axes as module name (class kind), or as
// torch's x.mean(axes) when name is empty.
func (b *Builder) ReduceMean(name, kind string, x Value, keep bool, axes ...int64) Value {
	return b.reduce(name, kind, "ReduceMean", x, keep, axes...)
}

// Alias exposes x as layer name of class kind (an ONNX Identity), for
// features that are not a torch module of their own, such as an LSTM's
// h_n.
func (b *Builder) Alias(name, kind string, x Value) Value {
	return b.unary(name, kind, "Identity", x)
}

// Embedding adds module name as a torch.nn.Embedding(num, dim) over int64
// ids of any shape; the output has the ids' shape plus dim. Ids outside
// [0, num) make ONNX Runtime fail, so callers check them first.
func (b *Builder) Embedding(name string, ids Value, num, dim int64) Value {
	const kind = "Embedding"
	if ids.t == nil {
		b.Failf("%s (Embedding): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	if ids.t.dtype != sdk.Int64 {
		b.Failf("%s (Embedding) wants int64 ids", b.Path(name))
	}
	w := b.Within(name, func() []Value {
		return []Value{b.Param("weight", []int64{num, dim}, Normal(0, 1))}
	})[0]
	shape := append(append([]int64(nil), ids.t.shape...), dim)
	return b.Node(name, kind, "Gather", []Value{w, ids}, shape, Int("axis", 0))
}

// Unflatten adds module name as torch.nn.Unflatten(1, dims): [N, F]
// becomes [N, dims...].
func (b *Builder) Unflatten(name string, x Value, dims ...int64) Value {
	if !b.checkRank(name, "Unflatten", x, 2) {
		return Value{b.placeholder()}
	}
	n := sdk.NumElements(dims)
	if f := x.t.shape[1]; f >= 0 && f != n {
		b.Failf("%s (Unflatten): %d features do not fill %v", b.Path(name), f, dims)
	}
	shape := append([]int64{x.t.shape[0]}, dims...)
	// 0 copies the batch dimension from the input.
	target := b.ConstInts(append([]int64{0}, dims...)...)
	return b.Node(name, "Unflatten", "Reshape", []Value{x, target}, shape)
}

// SquaredError adds module name (class kind) as the per-sample mean
// squared error between x and y, torch's ((x - y) ** 2).flatten(1).mean(1):
// shape [N].
func (b *Builder) SquaredError(name, kind string, x, y Value) Value {
	if x.t == nil || y.t == nil || !sdk.EqualShape(x.t.shape, y.t.shape) || len(x.t.shape) < 2 {
		b.Failf("%s (%s): want two inputs of one shape with a batch dimension", b.Path(name), kind)
		return Value{b.placeholder()}
	}
	d := b.Sub(x, y)
	sq := b.Mul(d, d)
	axes := make([]int64, 0, len(x.t.shape)-1)
	for i := 1; i < len(x.t.shape); i++ {
		axes = append(axes, int64(i))
	}
	return b.ReduceMean(name, kind, sq, false, axes...)
}
