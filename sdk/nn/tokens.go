package nn

import (
	"math"

	"github.com/gozoo/gozoo/sdk"
)

// The ops below work on token sequences and keep graphs free of sizes
// known only at run time: a dimension they need (a sequence length, a
// patch grid) is read from a tensor's shape in the graph, so that graphs
// built for two input sizes are the same graph (Builder.GraphKey) and one
// ONNX Runtime session serves both.

// Reshape is the functional x.reshape(shape) with ONNX's conventions: 0
// copies the input's dimension, -1 is inferred. The shape Layers reports
// infers -1 whenever the dimensions not copied are known, so a free batch
// that is copied does not hide the rest.
func (b *Builder) Reshape(x Value, shape ...int64) Value {
	if x.t == nil {
		b.Failf("%s (Reshape): missing input", b.Path(""))
		return Value{b.placeholder()}
	}
	out := make([]int64, len(shape))
	copied := make([]bool, len(x.t.shape))
	infer, known := -1, int64(1)
	for i, d := range shape {
		switch {
		case d == 0 && i < len(x.t.shape):
			out[i], copied[i] = x.t.shape[i], true
			continue
		case d == -1 && infer < 0:
			infer = i
		case d > 0:
			out[i] = d
			known *= d
		default:
			b.Failf("%s (Reshape): bad target %v for %s", b.Path(""), shape, sdk.FormatShape(x.t.shape))
			return Value{b.placeholder()}
		}
	}
	if infer >= 0 {
		total, ok := int64(1), true
		for i, d := range x.t.shape {
			if !copied[i] {
				ok = ok && d >= 0
				total *= d
			}
		}
		switch {
		case !ok:
			out[infer] = -1
		case known == 0 || total%known != 0:
			b.Failf("%s (Reshape): %s does not fit %v", b.Path(""), sdk.FormatShape(x.t.shape), shape)
		default:
			out[infer] = total / known
		}
	}
	v := b.Node("", "", "Reshape", []Value{x, b.ConstInts(shape...)}, out)
	v.t.dtype = x.t.dtype
	return v
}

// Slice is the functional x[start:end] along axis; end math.MaxInt64
// means to the end.
func (b *Builder) Slice(x Value, axis int, start, end int64) Value {
	if x.t == nil || start < 0 || end < start {
		b.Failf("%s (Slice): bad slice %d:%d", b.Path(""), start, end)
		return Value{b.placeholder()}
	}
	axis = b.normAxis(b.Path("")+" (Slice)", axis, len(x.t.shape))
	shape := append([]int64(nil), x.t.shape...)
	if d := shape[axis]; d >= 0 {
		shape[axis] = max(0, min(end, d)-min(start, d))
	} else if end != math.MaxInt64 {
		shape[axis] = -1
	}
	v := b.Node("", "", "Slice", []Value{x, b.ConstInts(start), b.ConstInts(end), b.ConstInts(int64(axis))}, shape)
	v.t.dtype = x.t.dtype
	return v
}

// SliceAs is the functional x[:n] along axis, where n is like's size
// along likeAxis when the graph runs (e.g. the position embeddings of as
// many tokens as the input has).
func (b *Builder) SliceAs(x Value, axis int, like Value, likeAxis int) Value {
	if x.t == nil || like.t == nil {
		b.Failf("%s (Slice): missing input", b.Path(""))
		return Value{b.placeholder()}
	}
	axis = b.normAxis(b.Path("")+" (Slice)", axis, len(x.t.shape))
	likeAxis = b.normAxis(b.Path("")+" (Slice)", likeAxis, len(like.t.shape))
	shape := append([]int64(nil), x.t.shape...)
	n := like.t.shape[likeAxis]
	if d := shape[axis]; n >= 0 && d >= 0 && n > d {
		b.Failf("%s (Slice): %d of %s wanted from %s", b.Path(""), n, sdk.FormatShape(like.t.shape), sdk.FormatShape(x.t.shape))
	}
	shape[axis] = n
	v := b.Node("", "", "Slice", []Value{x, b.ConstInts(0), b.Dims(like, likeAxis, likeAxis+1), b.ConstInts(int64(axis))}, shape)
	v.t.dtype = x.t.dtype
	return v
}

// Dims returns x's dimensions start..end-1 as the graph sees them when it
// runs: an int64 tensor of end-start values (ONNX Shape).
func (b *Builder) Dims(x Value, start, end int) Value {
	if x.t == nil || start < 0 || end > len(x.t.shape) || end <= start {
		b.Failf("%s (Shape): dimensions %d..%d of a rank-%d value", b.Path(""), start, end, len(x.Shape()))
		return Value{b.placeholder()}
	}
	return b.typed("", "", "Shape", sdk.Int64, []Value{x}, []int64{int64(end - start)},
		Int("start", int64(start)), Int("end", int64(end)))
}

// BroadcastBatch expands x, whose first dimension is 1, to like's first
// dimension, as torch's x.expand(n, -1, ...) does with n = like.shape[0]
// (ViT's class token for every image of a batch).
func (b *Builder) BroadcastBatch(x, like Value) Value {
	if x.t == nil || like.t == nil || len(x.t.shape) < 1 || len(like.t.shape) < 1 || x.t.shape[0] != 1 {
		b.Failf("%s (Expand): want a value whose first dimension is 1", b.Path(""))
		return Value{b.placeholder()}
	}
	target := b.Dims(like, 0, 1)
	if rest := x.t.shape[1:]; len(rest) > 0 {
		target = b.typed("", "", "Concat", sdk.Int64, []Value{target, b.ConstInts(rest...)}, []int64{int64(len(x.t.shape))}, Int("axis", 0))
	}
	shape := append([]int64{like.t.shape[0]}, x.t.shape[1:]...)
	v := b.Node("", "", "Expand", []Value{x, target}, shape)
	v.t.dtype = x.t.dtype
	return v
}

// BatchMatMul is the functional torch.matmul(x, y) for x and y of rank 2
// or more, with the leading dimensions broadcast.
func (b *Builder) BatchMatMul(x, y Value) Value {
	if x.t == nil || y.t == nil || len(x.t.shape) < 2 || len(y.t.shape) < 2 {
		b.Failf("%s (MatMul): want two values of rank 2 or more", b.Path(""))
		return Value{b.placeholder()}
	}
	xs, ys := x.t.shape, y.t.shape
	if k, k2 := xs[len(xs)-1], ys[len(ys)-2]; k >= 0 && k2 >= 0 && k != k2 {
		b.Failf("%s (MatMul): cannot multiply %s by %s", b.Path(""), sdk.FormatShape(xs), sdk.FormatShape(ys))
	}
	shape := b.broadcastShape(b.Path("")+" (MatMul)", xs[:len(xs)-2], ys[:len(ys)-2])
	shape = append(shape, xs[len(xs)-2], ys[len(ys)-1])
	return b.Node("", "", "MatMul", []Value{x, y}, shape)
}

// Bicubic adds module name (class kind; a functional op when name is
// empty) as torch.nn.functional.interpolate(x, size, mode="bicubic",
// align_corners=False) over the last two dimensions of a 4-d x: ONNX
// Resize, cubic with coefficient -0.75 and half-pixel coordinates, which
// reads border pixels for taps outside the input as torch does. size is
// an int64 [2] value with the output height and width when the graph
// runs (say, Dims of another tensor); h and w are those sizes for the
// shapes Layers reports (-1 when unknown).
func (b *Builder) Bicubic(name, kind string, x, size Value, h, w int64) Value {
	if !b.checkRank(name, "Resize", x, 4) {
		return Value{b.placeholder()}
	}
	if size.t == nil || size.t.dtype != sdk.Int64 || !sdk.EqualShape(size.t.shape, []int64{2}) {
		b.Failf("%s (Resize): want an int64 [2] output size", b.Path(name))
		return Value{b.placeholder()}
	}
	sizes := b.typed("", "", "Concat", sdk.Int64, []Value{b.Dims(x, 0, 2), size}, []int64{4}, Int("axis", 0))
	none := Value{&tensor{name: "", shape: []int64{0}, dtype: sdk.Float32}} // an absent optional input
	shape := []int64{x.t.shape[0], x.t.shape[1], h, w}
	return b.Node(name, kind, "Resize", []Value{x, none, none, sizes}, shape,
		String("mode", "cubic"), Float("cubic_coeff_a", -0.75), Int("exclude_outside", 0),
		String("coordinate_transformation_mode", "half_pixel"))
}

// MapOutput makes layer name's output f(out) when it is asked for, while
// the modules after it go on reading out: a view of a layer that the
// forward pass itself does not use, such as a sequence's features with
// padded positions zeroed. f adds functional ops only. An unknown name is
// a build error.
func (b *Builder) MapOutput(name string, f func(out Value) Value) {
	l, ok := b.layerIdx[name]
	if !ok || l.out == nil {
		b.Failf("MapOutput: no layer %q", name)
		return
	}
	old := l.out
	v := f(Value{old})
	if v.t == nil || v.t == old {
		return
	}
	if old.name == name {
		// The module's own tensor gives its name to the view.
		old.name, v.t.name = v.t.name, old.name
	}
	l.out = v.t
}

// onnxDouble is ONNX's DOUBLE element type.
const onnxDouble = 11

// sum64 sums x over axes in float64 and rounds the result to float32
// once (a functional op). A float32 sum of n values of one sign, which
// ONNX Runtime adds in order, loses about log2(n) bits, more than torch's
// pairwise sums; the float64 sum loses none. The float64 tensors live
// inside these nodes only (the builder labels them float32).
func (b *Builder) sum64(x Value, keep bool, axes ...int64) Value {
	if x.t == nil {
		b.Failf("%s (ReduceSum): missing input", b.Path(""))
		return Value{b.placeholder()}
	}
	d := b.Node("", "", "Cast", []Value{x}, x.t.shape, Int("to", onnxDouble))
	s := b.ReduceSum("", "", d, keep, axes...)
	return b.Node("", "", "Cast", []Value{s}, s.t.shape, Int("to", onnxFloat))
}

// ReduceMean64 adds module name (class kind; functional when name is
// empty) as torch's x.mean(axes), averaged in float64 and rounded to
// float32 once (see sum64), so that long averages (the mean of a ViT's
// patch tokens) are as close to exact as torch's pairwise sums or closer.
func (b *Builder) ReduceMean64(name, kind string, x Value, keep bool, axes ...int64) Value {
	if x.t == nil {
		b.Failf("%s (ReduceMean): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	d := b.Node("", "", "Cast", []Value{x}, x.t.shape, Int("to", onnxDouble))
	m := b.ReduceMean("", "", d, keep, axes...)
	return b.Node(name, kind, "Cast", []Value{m}, m.t.shape, Int("to", onnxFloat))
}
