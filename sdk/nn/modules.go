package nn

import (
	"math"

	"github.com/gozoo/gozoo/sdk"
)

// Pair is a (height, width) pair such as a kernel size or a stride.
type Pair [2]int64

// P returns the square pair (n, n).
func P(n int64) Pair { return Pair{n, n} }

func (p Pair) or(def int64) Pair {
	if p == (Pair{}) {
		return P(def)
	}
	return p
}

// AttrKind is the type of an ONNX node attribute.
type AttrKind int

// Attribute types.
const (
	AttrInt AttrKind = iota + 1
	AttrFloat
	AttrInts
	AttrString
)

// Attr is one ONNX node attribute.
type Attr struct {
	Name  string
	Kind  AttrKind
	Int   int64
	Float float32
	Ints  []int64
	Str   string
}

// Int returns an integer attribute.
func Int(name string, v int64) Attr { return Attr{Name: name, Kind: AttrInt, Int: v} }

// Float returns a float attribute.
func Float(name string, v float32) Attr { return Attr{Name: name, Kind: AttrFloat, Float: v} }

// Ints returns an integer-list attribute.
func Ints(name string, v ...int64) Attr { return Attr{Name: name, Kind: AttrInts, Ints: v} }

// String returns a string attribute.
func String(name string, v string) Attr { return Attr{Name: name, Kind: AttrString, Str: v} }

// checkRank records a build error unless x has the given rank.
func (b *Builder) checkRank(name, kind string, x Value, rank int) bool {
	if x.t == nil {
		b.Failf("%s (%s): missing input", b.Path(name), kind)
		return false
	}
	if len(x.t.shape) != rank {
		b.Failf("%s (%s) wants a %d-d input, got %s", b.Path(name), kind, rank, sdk.FormatShape(x.t.shape))
		return false
	}
	return true
}

// windowOut is torch's output size of a convolution or pooling window.
func windowOut(in, k, s, p, d int64, ceil bool) int64 {
	if in < 0 {
		return -1
	}
	num := in + 2*p - d*(k-1) - 1
	var out int64
	if ceil {
		out = int64(math.Ceil(float64(num)/float64(s))) + 1
		// The last window must start inside the input or left padding.
		if (out-1)*s >= in+p {
			out--
		}
	} else {
		out = int64(math.Floor(float64(num)/float64(s))) + 1
	}
	return out
}

// spatial computes the output shape of a window op over an NCHW input,
// recording a build error when the input is too small.
func (b *Builder) spatial(name, kind string, x Value, c int64, k, s, p, d Pair, ceil bool) []int64 {
	sh := x.t.shape
	out := []int64{sh[0], c, 0, 0}
	for i := 0; i < 2; i++ {
		out[2+i] = windowOut(sh[2+i], k[i], s[i], p[i], d[i], ceil)
		if sh[2+i] >= 0 && out[2+i] < 1 {
			b.Failf("%s (%s): input %s is too small: kernel %d with padding %d does not fit %d; use a larger input",
				b.Path(name), kind, sdk.FormatShape(sh), k[i], p[i], sh[2+i])
			out[2+i] = 1
		}
	}
	return out
}

// Conv2d configures torch.nn.Conv2d. Zero Stride and Dilation mean 1,
// zero Groups means 1. Bias adds a bias (torch's default is true; write
// it out). WeightInit overrides torch's default kaiming_uniform init.
type Conv2d struct {
	In, Out  int64
	Kernel   Pair
	Stride   Pair
	Padding  Pair
	Dilation Pair
	Groups   int64
	Bias     bool
	// WeightInit, when its Kind is not InitZeros, replaces the default
	// init of the weight.
	WeightInit Init
	// SpectralNorm, when set, normalises the weight as torch's
	// spectral_norm does in eval mode, with its state_dict names.
	SpectralNorm SpectralNorm
}

// Conv2d adds module name as a torch.nn.Conv2d.
func (b *Builder) Conv2d(name string, x Value, c Conv2d) Value {
	kind := c.SpectralNorm.kind("Conv2d")
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	g := c.Groups
	if g == 0 {
		g = 1
	}
	if c.In%g != 0 || c.Out%g != 0 {
		b.Failf("%s (Conv2d): channels %d->%d not divisible by groups %d", b.Path(name), c.In, c.Out, g)
		return Value{b.placeholder()}
	}
	if ch := x.t.shape[1]; ch >= 0 && ch != c.In {
		b.Failf("%s (Conv2d) expects %d input channels, got %s", b.Path(name), c.In, sdk.FormatShape(x.t.shape))
	}
	k, s, d := c.Kernel, c.Stride.or(1), c.Dilation.or(1)
	p := c.Padding
	shape := b.spatial(name, kind, x, c.Out, k, s, p, d, false)
	wshape := []int64{c.Out, c.In / g, k[0], k[1]}
	init := c.WeightInit
	if init.Kind == InitZeros {
		init = Init{Kind: InitKaimingUniform}
	}
	inputs := b.Within(name, func() []Value {
		if c.SpectralNorm != NoSpectralNorm {
			return append([]Value{x}, b.spectralParams(c.SpectralNorm, wshape, init, c.Bias)...)
		}
		w := b.Param("weight", wshape, init)
		if !c.Bias {
			return []Value{x, w}
		}
		fi, _ := fans(wshape)
		bound := 1 / math.Sqrt(fi)
		return []Value{x, w, b.Param("bias", []int64{c.Out}, Uniform(-bound, bound))}
	})
	return b.Node(name, kind, "Conv", inputs, shape,
		Ints("kernel_shape", k[0], k[1]), Ints("strides", s[0], s[1]),
		Ints("pads", p[0], p[1], p[0], p[1]), Ints("dilations", d[0], d[1]), Int("group", g))
}

// Within runs f with name pushed on the scope, so that parameters declared
// in f belong to module name without recording a layer. A leaf module
// written outside this package declares its parameters in Within and then
// adds its node with Node(name, ...).
func (b *Builder) Within(name string, f func() []Value) []Value {
	b.scope = append(b.scope, name)
	defer func() { b.scope = b.scope[:len(b.scope)-1] }()
	return f()
}

// BatchNorm2d adds module name as a torch.nn.BatchNorm2d over c channels
// in eval mode (running statistics, eps 1e-5, affine).
func (b *Builder) BatchNorm2d(name string, x Value, c int64) Value {
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
	return b.Node(name, kind, "BatchNormalization", inputs, x.t.shape, Float("epsilon", 1e-5))
}

// unary adds an elementwise module.
func (b *Builder) unary(name, kind, op string, x Value, attrs ...Attr) Value {
	if x.t == nil {
		b.Failf("%s (%s): missing input", b.Path(name), kind)
		return Value{b.placeholder()}
	}
	return b.Node(name, kind, op, []Value{x}, x.t.shape, attrs...)
}

// ReLU adds module name as a torch.nn.ReLU.
func (b *Builder) ReLU(name string, x Value) Value { return b.unary(name, "ReLU", "Relu", x) }

// Sigmoid adds module name as a torch.nn.Sigmoid.
func (b *Builder) Sigmoid(name string, x Value) Value { return b.unary(name, "Sigmoid", "Sigmoid", x) }

// Tanh adds module name as a torch.nn.Tanh.
func (b *Builder) Tanh(name string, x Value) Value { return b.unary(name, "Tanh", "Tanh", x) }

// Identity adds module name as a torch.nn.Identity.
func (b *Builder) Identity(name string, x Value) Value {
	return b.unary(name, "Identity", "Identity", x)
}

// Dropout adds module name as a torch.nn.Dropout, the identity at
// inference.
func (b *Builder) Dropout(name string, x Value) Value {
	return b.unary(name, "Dropout", "Identity", x)
}

// Pool configures MaxPool2d and AvgPool2d. Zero Stride means Kernel, as in
// torch. CountIncludePad is AvgPool2d's count_include_pad (torch's default
// is true: write it out).
type Pool struct {
	Kernel          Pair
	Stride          Pair
	Padding         Pair
	Dilation        Pair // MaxPool2d only
	CeilMode        bool
	CountIncludePad bool
}

func (p Pool) norm() Pool {
	if p.Stride == (Pair{}) {
		p.Stride = p.Kernel
	}
	p.Dilation = p.Dilation.or(1)
	return p
}

func boolInt(v bool) int64 {
	if v {
		return 1
	}
	return 0
}

// MaxPool2d adds module name as a torch.nn.MaxPool2d.
func (b *Builder) MaxPool2d(name string, x Value, p Pool) Value {
	const kind = "MaxPool2d"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	p = p.norm()
	shape := b.spatial(name, kind, x, x.t.shape[1], p.Kernel, p.Stride, p.Padding, p.Dilation, p.CeilMode)
	return b.Node(name, kind, "MaxPool", []Value{x}, shape,
		Ints("kernel_shape", p.Kernel[0], p.Kernel[1]), Ints("strides", p.Stride[0], p.Stride[1]),
		Ints("pads", p.Padding[0], p.Padding[1], p.Padding[0], p.Padding[1]),
		Ints("dilations", p.Dilation[0], p.Dilation[1]), Int("ceil_mode", boolInt(p.CeilMode)))
}

// AvgPool2d adds module name as a torch.nn.AvgPool2d.
func (b *Builder) AvgPool2d(name string, x Value, p Pool) Value {
	const kind = "AvgPool2d"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	p = p.norm()
	shape := b.spatial(name, kind, x, x.t.shape[1], p.Kernel, p.Stride, p.Padding, P(1), p.CeilMode)
	return b.Node(name, kind, "AveragePool", []Value{x}, shape,
		Ints("kernel_shape", p.Kernel[0], p.Kernel[1]), Ints("strides", p.Stride[0], p.Stride[1]),
		Ints("pads", p.Padding[0], p.Padding[1], p.Padding[0], p.Padding[1]),
		Int("ceil_mode", boolInt(p.CeilMode)), Int("count_include_pad", boolInt(p.CountIncludePad)))
}

// AdaptiveAvgPool2d adds module name as a torch.nn.AdaptiveAvgPool2d with
// output size out. Output (1, 1) keeps torch's [N, C, 1, 1] shape; other
// sizes take torch's windows for the input size the graph is built for
// (a fixed window when the input is a multiple of out, window sums
// otherwise), so such a graph serves only inputs of that size.
func (b *Builder) AdaptiveAvgPool2d(name string, x Value, out Pair) Value {
	const kind = "AdaptiveAvgPool2d"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	sh := x.t.shape
	shape := []int64{sh[0], sh[1], out[0], out[1]}
	if out == P(1) {
		return b.Node(name, kind, "GlobalAveragePool", []Value{x}, shape)
	}
	h, w := sh[2], sh[3]
	if !b.checkAdaptive(name, x) {
		return b.Node(name, kind, "Identity", []Value{x}, shape)
	}
	if h%out[0] != 0 || w%out[1] != 0 {
		return b.adaptiveAvgPoolAny(name, kind, x, out) // adaptive.go
	}
	k := Pair{h / out[0], w / out[1]}
	return b.Node(name, kind, "AveragePool", []Value{x}, shape,
		Ints("kernel_shape", k[0], k[1]), Ints("strides", k[0], k[1]))
}

// Flatten adds module name as torch.nn.Flatten(start_dim=1), or
// torch.flatten(x, 1) when name is empty.
func (b *Builder) Flatten(name string, x Value) Value {
	if x.t == nil || len(x.t.shape) < 2 {
		b.Failf("%s (Flatten): input must have a batch and a feature dimension", b.Path(name))
		return Value{b.placeholder()}
	}
	n := int64(1)
	for _, d := range x.t.shape[1:] {
		n *= d
	}
	if n < 0 {
		n = -1
	}
	return b.Node(name, "Flatten", "Flatten", []Value{x}, []int64{x.t.shape[0], n}, Int("axis", 1))
}

// Linear adds module name as a torch.nn.Linear (in -> out features, with
// bias when bias is true) over the last dimension of x.
func (b *Builder) Linear(name string, x Value, in, out int64, bias bool) Value {
	const kind = "Linear"
	if x.t == nil || len(x.t.shape) < 1 {
		b.Failf("%s (Linear): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	sh := x.t.shape
	if last := sh[len(sh)-1]; last >= 0 && last != in {
		b.Failf("%s (Linear) expects %d input features, got %s", b.Path(name), in, sdk.FormatShape(sh))
	}
	shape := append(append([]int64(nil), sh[:len(sh)-1]...), out)
	bound := 1 / math.Sqrt(float64(in))
	inputs := b.Within(name, func() []Value {
		w := b.Param("weight", []int64{out, in}, Init{Kind: InitKaimingUniform})
		if !bias {
			return []Value{x, w}
		}
		return []Value{x, w, b.Param("bias", []int64{out}, Uniform(-bound, bound))}
	})
	if len(sh) == 2 {
		return b.Node(name, kind, "Gemm", inputs, shape, Int("transB", 1))
	}
	// x @ W^T (+ b) for inputs of other ranks.
	wt := b.Node("", "", "Transpose", inputs[1:2], []int64{in, out}, Ints("perm", 1, 0))
	if !bias {
		return b.Node(name, kind, "MatMul", []Value{x, wt}, shape)
	}
	mm := b.Node("", "", "MatMul", []Value{x, wt}, shape)
	return b.Node(name, kind, "Add", []Value{mm, inputs[2]}, shape)
}

// Add adds x + y (same shapes) as module name, or as a functional op when
// name is empty.
func (b *Builder) Add(name string, x, y Value) Value {
	if x.t == nil || y.t == nil {
		b.Failf("%s (Add): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	if !sdk.EqualShape(x.t.shape, y.t.shape) {
		b.Failf("%s: cannot add %s and %s", b.Path(name), sdk.FormatShape(x.t.shape), sdk.FormatShape(y.t.shape))
	}
	return b.Node(name, "Add", "Add", []Value{x, y}, x.t.shape)
}

// Concat concatenates xs along axis as module name (torch.cat when name
// is empty).
func (b *Builder) Concat(name string, axis int, xs ...Value) Value {
	if len(xs) == 0 || xs[0].t == nil {
		b.Failf("%s (Concat): no inputs", b.Path(name))
		return Value{b.placeholder()}
	}
	shape := append([]int64(nil), xs[0].t.shape...)
	if axis < 0 {
		axis += len(shape)
	}
	if axis < 0 || axis >= len(shape) {
		b.Failf("%s (Concat): axis %d out of range for %s", b.Path(name), axis, sdk.FormatShape(shape))
		return Value{b.placeholder()}
	}
	for _, v := range xs[1:] {
		if v.t == nil || len(v.t.shape) != len(shape) {
			b.Failf("%s (Concat): inputs differ in rank", b.Path(name))
			return Value{b.placeholder()}
		}
		for i := range shape {
			if i != axis && v.t.shape[i] != shape[i] {
				b.Failf("%s (Concat): cannot join %s and %s on axis %d", b.Path(name), sdk.FormatShape(shape), sdk.FormatShape(v.t.shape), axis)
			}
		}
		if shape[axis] >= 0 && v.t.shape[axis] >= 0 {
			shape[axis] += v.t.shape[axis]
		} else {
			shape[axis] = -1
		}
	}
	return b.Node(name, "Concat", "Concat", xs, shape, Int("axis", int64(axis)))
}

// Sequential runs the numbered children of container name (class
// "Sequential") in order: child i is called with scope "name" and index i
// as its name.
func (b *Builder) Sequential(name string, x Value, children ...func(name string, x Value) Value) Value {
	return b.Module(name, "Sequential", func() Value {
		for i, c := range children {
			x = c(itoa(i), x)
		}
		return x
	})
}

func itoa(i int) string {
	const digits = "0123456789"
	if i < 10 {
		return digits[i : i+1]
	}
	return itoa(i/10) + digits[i%10:i%10+1]
}
