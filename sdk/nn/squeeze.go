package nn

// This file holds torchvision's building blocks of its EfficientNet and
// RegNet families: SiLU, SqueezeExcitation and Conv2dNormActivation (from
// torchvision.ops) and MakeDivisible.

// MakeDivisible is torchvision's _make_divisible(v, divisor), which sizes
// the channels of its mobile nets, EfficientNet and RegNet: v rounded to
// the nearest multiple of divisor (halves up), at least divisor, and not
// more than 10% below v.
func MakeDivisible(v float64, divisor int64) int64 {
	n := max(divisor, int64(v+float64(divisor)/2)/divisor*divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

// Activation adds an activation module (ReLU, SiLU, Sigmoid, ...) as
// module name. Builder methods such as b.ReLU are Activations.
type Activation func(name string, x Value) Value

// SiLU adds module name as a torch.nn.SiLU: x * sigmoid(x), an ONNX
// Sigmoid and Mul (ONNX has no SiLU op before opset 22). Whether torch ran
// it in place does not change the output.
func (b *Builder) SiLU(name string, x Value) Value {
	if x.t == nil {
		b.Failf("%s (SiLU): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	s := b.Act("Sigmoid", x)
	return b.Node(name, "SiLU", "Mul", []Value{x, s}, x.t.shape)
}

// SqueezeExcitation configures torchvision.ops.SqueezeExcitation over an
// NCHW input of Channels channels: avgpool (global average), fc1 (1x1
// conv to Squeeze channels, with bias), activation, fc2 (1x1 conv back,
// with bias), scale_activation, and the input scaled by the result.
type SqueezeExcitation struct {
	Channels, Squeeze int64
	// Activation is torchvision's activation (delta); nil means ReLU.
	Activation Activation
	// ScaleActivation is its scale_activation (sigma); nil means Sigmoid.
	ScaleActivation Activation
	// WeightInit, when its Kind is not InitZeros, replaces the default
	// init of fc1's and fc2's weights.
	WeightInit Init
}

// SqueezeExcitation adds module name as a torchvision.ops.SqueezeExcitation
// with the children avgpool, fc1, activation, fc2 and scale_activation.
// Its output is scale * input, the input's shape.
func (b *Builder) SqueezeExcitation(name string, x Value, se SqueezeExcitation) Value {
	const kind = "SqueezeExcitation"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	if se.Channels < 1 || se.Squeeze < 1 {
		b.Failf("%s (%s): %d channels squeezed to %d; both must be positive", b.Path(name), kind, se.Channels, se.Squeeze)
		return Value{b.placeholder()}
	}
	act, scale := se.Activation, se.ScaleActivation
	if act == nil {
		act = b.ReLU
	}
	if scale == nil {
		scale = b.Sigmoid
	}
	return b.Module(name, kind, func() Value {
		s := b.AdaptiveAvgPool2d("avgpool", x, P(1))
		s = b.Conv2d("fc1", s, Conv2d{In: se.Channels, Out: se.Squeeze, Kernel: P(1), Bias: true, WeightInit: se.WeightInit})
		s = act("activation", s)
		s = b.Conv2d("fc2", s, Conv2d{In: se.Squeeze, Out: se.Channels, Kernel: P(1), Bias: true, WeightInit: se.WeightInit})
		s = scale("scale_activation", s)
		return b.Mul(s, x)
	})
}

// Conv2dNormActivation configures torchvision.ops.Conv2dNormActivation:
// children "0" a Conv2d (no bias), "1" a BatchNorm2d and, with an
// Activation, "2" the activation.
type Conv2dNormActivation struct {
	// Conv is the convolution. A zero Padding means torchvision's default,
	// (kernel-1)/2*dilation on each side; Bias is ignored (torchvision
	// adds none before a norm layer).
	Conv Conv2d
	// Eps is BatchNorm2d's eps; zero means torch's 1e-5.
	Eps float32
	// Activation is the activation module; nil means none.
	Activation Activation
	// Kind is the module's class name; empty means
	// "Conv2dNormActivation". Subclasses such as RegNet's SimpleStemIN
	// name themselves here.
	Kind string
}

// Conv2dNormActivation adds module name as a
// torchvision.ops.Conv2dNormActivation.
func (b *Builder) Conv2dNormActivation(name string, x Value, c Conv2dNormActivation) Value {
	kind := c.Kind
	if kind == "" {
		kind = "Conv2dNormActivation"
	}
	conv := c.Conv
	conv.Bias = false
	if conv.Padding == (Pair{}) {
		d := conv.Dilation.or(1)
		conv.Padding = Pair{(conv.Kernel[0] - 1) / 2 * d[0], (conv.Kernel[1] - 1) / 2 * d[1]}
	}
	eps := c.Eps
	if eps == 0 {
		eps = 1e-5
	}
	if eps < 0 {
		b.Failf("%s (%s): BatchNorm2d eps %g is negative", b.Path(name), kind, eps)
		return Value{b.placeholder()}
	}
	return b.Module(name, kind, func() Value {
		y := b.Conv2d("0", x, conv)
		y = b.BatchNorm2dEps("1", y, conv.Out, eps)
		if c.Activation != nil {
			y = c.Activation("2", y)
		}
		return y
	})
}
