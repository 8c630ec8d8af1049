package inception

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// arch is one torchvision Inception network.
type arch struct {
	name  string
	input []int64 // default input
	build func(o options, inputShape []int64) *nn.Builder
	// auxHeads are the aux heads' module names.
	auxHeads []string
	// stem is the key of the first parameter, which tells the networks'
	// checkpoints apart.
	stem string
	doc  string
}

// options are an arch's Load options.
type options struct {
	numClasses     int64
	auxLogits      bool
	transformInput bool
}

// archs lists the networks exactly as torchvision 0.14 defines them.
var archs = []arch{
	{"inception_v3", []int64{-1, 3, 299, 299}, buildV3, []string{"AuxLogits"}, "Conv2d_1a_3x3.conv.weight", "Inception v3 (Inception3)"},
	{"googlenet", []int64{-1, 3, 224, 224}, buildGoogLeNet, []string{"aux1", "aux2"}, "conv1.conv.weight", "GoogLeNet (Inception v1)"},
}

// bnEps is BasicConv2d's BatchNorm2d eps in both networks.
const bnEps = 0.001

// conv configures one BasicConv2d.
type conv struct {
	in, out int64
	k, s, p nn.Pair
	initStd float64
}

// basicConv is torchvision's BasicConv2d: conv (no bias), bn (eps 0.001)
// and a functional relu, whose output is the module's.
func basicConv(b *nn.Builder, name string, x nn.Value, c conv) nn.Value {
	return b.Module(name, "BasicConv2d", func() nn.Value {
		y := b.Conv2d("conv", x, nn.Conv2d{In: c.in, Out: c.out, Kernel: c.k, Stride: c.s, Padding: c.p, WeightInit: nn.Normal(0, c.initStd)})
		y = b.BatchNorm2dEps("bn", y, c.out, bnEps)
		return b.ReLU("", y) // F.relu(x, inplace=True)
	})
}

// transformInput is torchvision's _transform_input: ImageNet-normalised
// input re-normalised to [-1, 1] statistics, channel by channel.
func transformInput(b *nn.Builder, x nn.Value) nn.Value {
	scale := []float32{float32(0.229 / 0.5), float32(0.224 / 0.5), float32(0.225 / 0.5)}
	shift := []float32{float32((0.485 - 0.5) / 0.5), float32((0.456 - 0.5) / 0.5), float32((0.406 - 0.5) / 0.5)}
	return b.ChannelAffine("", x, scale, shift)
}

// v3 helpers: square and (h, w) kernels.
func sq(n int64) nn.Pair    { return nn.P(n) }
func hw(h, w int64) nn.Pair { return nn.Pair{h, w} }
func c3(in, out int64) conv { return conv{in: in, out: out, k: sq(3), initStd: 0.1} }
func c1(in, out int64) conv { return conv{in: in, out: out, k: sq(1), initStd: 0.1} }
func ck(in, out int64, k, p nn.Pair) conv {
	return conv{in: in, out: out, k: k, p: p, initStd: 0.1}
}

// buildV3 records torchvision's Inception3.forward (eval mode). With
// aux_logits the AuxLogits head is computed from Mixed_6e, where
// training mode calls it, so that it is a feature layer too; it needs
// Mixed_6e to be at least 17x17 (an input of about 299x299), and smaller
// inputs leave it out (Extract then says the input is too small).
func buildV3(o options, inputShape []int64) *nn.Builder {
	b := nn.NewBuilder("Inception3")
	x := b.Input(inputName, inputShape, 0, 2, 3)
	if o.transformInput {
		x = transformInput(b, x)
	}
	s2 := func(c conv) conv { c.s = sq(2); return c }
	pad := func(c conv, p int64) conv { c.p = sq(p); return c }
	x = basicConv(b, "Conv2d_1a_3x3", x, s2(c3(3, 32)))
	x = basicConv(b, "Conv2d_2a_3x3", x, c3(32, 32))
	x = basicConv(b, "Conv2d_2b_3x3", x, pad(c3(32, 64), 1))
	x = b.MaxPool2d("maxpool1", x, nn.Pool{Kernel: sq(3), Stride: sq(2)})
	x = basicConv(b, "Conv2d_3b_1x1", x, c1(64, 80))
	x = basicConv(b, "Conv2d_4a_3x3", x, c3(80, 192))
	x = b.MaxPool2d("maxpool2", x, nn.Pool{Kernel: sq(3), Stride: sq(2)})
	x = inceptionA(b, "Mixed_5b", x, 192, 32)
	x = inceptionA(b, "Mixed_5c", x, 256, 64)
	x = inceptionA(b, "Mixed_5d", x, 288, 64)
	x = inceptionB(b, "Mixed_6a", x, 288)
	x = inceptionC(b, "Mixed_6b", x, 768, 128)
	x = inceptionC(b, "Mixed_6c", x, 768, 160)
	x = inceptionC(b, "Mixed_6d", x, 768, 160)
	x = inceptionC(b, "Mixed_6e", x, 768, 192)
	if sh := x.Shape(); o.auxLogits && sh[2] >= 17 && sh[3] >= 17 {
		auxV3(b, "AuxLogits", x, o.numClasses)
	}
	x = inceptionD(b, "Mixed_7a", x, 768)
	x = inceptionE(b, "Mixed_7b", x, 1280)
	x = inceptionE(b, "Mixed_7c", x, 2048)
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(1))
	x = b.Dropout("dropout", x)
	x = b.Flatten("", x) // torch.flatten(x, 1)
	b.Linear("fc", x, 2048, o.numClasses, true)
	return b
}

// avgPool3 is F.avg_pool2d(x, kernel_size=3, stride=1, padding=1).
func avgPool3(b *nn.Builder, x nn.Value) nn.Value {
	return b.AvgPool2d("", x, nn.Pool{Kernel: sq(3), Stride: sq(1), Padding: sq(1), CountIncludePad: true})
}

// maxPool3s2 is F.max_pool2d(x, kernel_size=3, stride=2).
func maxPool3s2(b *nn.Builder, x nn.Value) nn.Value {
	return b.MaxPool2d("", x, nn.Pool{Kernel: sq(3), Stride: sq(2)})
}

func inceptionA(b *nn.Builder, name string, x nn.Value, in, poolFeatures int64) nn.Value {
	return b.Module(name, "InceptionA", func() nn.Value {
		b1 := basicConv(b, "branch1x1", x, c1(in, 64))
		b5 := basicConv(b, "branch5x5_1", x, c1(in, 48))
		b5 = basicConv(b, "branch5x5_2", b5, ck(48, 64, sq(5), sq(2)))
		b3 := basicConv(b, "branch3x3dbl_1", x, c1(in, 64))
		b3 = basicConv(b, "branch3x3dbl_2", b3, ck(64, 96, sq(3), sq(1)))
		b3 = basicConv(b, "branch3x3dbl_3", b3, ck(96, 96, sq(3), sq(1)))
		bp := basicConv(b, "branch_pool", avgPool3(b, x), c1(in, poolFeatures))
		return b.Concat("", 1, b1, b5, b3, bp)
	})
}

func inceptionB(b *nn.Builder, name string, x nn.Value, in int64) nn.Value {
	return b.Module(name, "InceptionB", func() nn.Value {
		s2 := c3(in, 384)
		s2.s = sq(2)
		b3 := basicConv(b, "branch3x3", x, s2)
		bd := basicConv(b, "branch3x3dbl_1", x, c1(in, 64))
		bd = basicConv(b, "branch3x3dbl_2", bd, ck(64, 96, sq(3), sq(1)))
		d3 := c3(96, 96)
		d3.s = sq(2)
		bd = basicConv(b, "branch3x3dbl_3", bd, d3)
		return b.Concat("", 1, b3, bd, maxPool3s2(b, x))
	})
}

func inceptionC(b *nn.Builder, name string, x nn.Value, in, c7 int64) nn.Value {
	return b.Module(name, "InceptionC", func() nn.Value {
		b1 := basicConv(b, "branch1x1", x, c1(in, 192))
		b7 := basicConv(b, "branch7x7_1", x, c1(in, c7))
		b7 = basicConv(b, "branch7x7_2", b7, ck(c7, c7, hw(1, 7), hw(0, 3)))
		b7 = basicConv(b, "branch7x7_3", b7, ck(c7, 192, hw(7, 1), hw(3, 0)))
		bd := basicConv(b, "branch7x7dbl_1", x, c1(in, c7))
		bd = basicConv(b, "branch7x7dbl_2", bd, ck(c7, c7, hw(7, 1), hw(3, 0)))
		bd = basicConv(b, "branch7x7dbl_3", bd, ck(c7, c7, hw(1, 7), hw(0, 3)))
		bd = basicConv(b, "branch7x7dbl_4", bd, ck(c7, c7, hw(7, 1), hw(3, 0)))
		bd = basicConv(b, "branch7x7dbl_5", bd, ck(c7, 192, hw(1, 7), hw(0, 3)))
		bp := basicConv(b, "branch_pool", avgPool3(b, x), c1(in, 192))
		return b.Concat("", 1, b1, b7, bd, bp)
	})
}

func inceptionD(b *nn.Builder, name string, x nn.Value, in int64) nn.Value {
	return b.Module(name, "InceptionD", func() nn.Value {
		b3 := basicConv(b, "branch3x3_1", x, c1(in, 192))
		s2 := c3(192, 320)
		s2.s = sq(2)
		b3 = basicConv(b, "branch3x3_2", b3, s2)
		b7 := basicConv(b, "branch7x7x3_1", x, c1(in, 192))
		b7 = basicConv(b, "branch7x7x3_2", b7, ck(192, 192, hw(1, 7), hw(0, 3)))
		b7 = basicConv(b, "branch7x7x3_3", b7, ck(192, 192, hw(7, 1), hw(3, 0)))
		s2 = c3(192, 192)
		s2.s = sq(2)
		b7 = basicConv(b, "branch7x7x3_4", b7, s2)
		return b.Concat("", 1, b3, b7, maxPool3s2(b, x))
	})
}

func inceptionE(b *nn.Builder, name string, x nn.Value, in int64) nn.Value {
	return b.Module(name, "InceptionE", func() nn.Value {
		b1 := basicConv(b, "branch1x1", x, c1(in, 320))
		b3 := basicConv(b, "branch3x3_1", x, c1(in, 384))
		b3 = b.Concat("", 1,
			basicConv(b, "branch3x3_2a", b3, ck(384, 384, hw(1, 3), hw(0, 1))),
			basicConv(b, "branch3x3_2b", b3, ck(384, 384, hw(3, 1), hw(1, 0))))
		bd := basicConv(b, "branch3x3dbl_1", x, c1(in, 448))
		bd = basicConv(b, "branch3x3dbl_2", bd, ck(448, 384, sq(3), sq(1)))
		bd = b.Concat("", 1,
			basicConv(b, "branch3x3dbl_3a", bd, ck(384, 384, hw(1, 3), hw(0, 1))),
			basicConv(b, "branch3x3dbl_3b", bd, ck(384, 384, hw(3, 1), hw(1, 0))))
		bp := basicConv(b, "branch_pool", avgPool3(b, x), c1(in, 192))
		return b.Concat("", 1, b1, b3, bd, bp)
	})
}

// auxV3 is Inception3's InceptionAux.
func auxV3(b *nn.Builder, name string, x nn.Value, numClasses int64) nn.Value {
	return b.Module(name, "InceptionAux", func() nn.Value {
		y := b.AvgPool2d("", x, nn.Pool{Kernel: sq(5), Stride: sq(3), CountIncludePad: true})
		y = basicConv(b, "conv0", y, c1(768, 128))
		k5 := conv{in: 128, out: 768, k: sq(5), initStd: 0.01}
		y = basicConv(b, "conv1", y, k5)
		y = b.AdaptiveAvgPool2d("", y, nn.P(1))
		y = b.Flatten("", y)
		return b.Linear("fc", y, 768, numClasses, true)
	})
}

// buildGoogLeNet records torchvision's GoogLeNet.forward (eval mode).
// With aux_logits the heads aux1 (from inception4a) and aux2 (from
// inception4d) are computed too, after inception5b, in the order
// torchvision registers them, so that they are feature layers. Their
// adaptive pooling to 4x4 makes their graphs differ between input sizes.
func buildGoogLeNet(o options, inputShape []int64) *nn.Builder {
	b := nn.NewBuilder("GoogLeNet")
	x := b.Input(inputName, inputShape, 0, 2, 3)
	if o.transformInput {
		x = transformInput(b, x)
	}
	g := func(in, out, k, s, p int64) conv {
		return conv{in: in, out: out, k: sq(k), s: sq(s), p: sq(p), initStd: 0.01}
	}
	mp := func(name string, x nn.Value, k int64) nn.Value {
		return b.MaxPool2d(name, x, nn.Pool{Kernel: sq(k), Stride: sq(2), CeilMode: true})
	}
	x = basicConv(b, "conv1", x, g(3, 64, 7, 2, 3))
	x = mp("maxpool1", x, 3)
	x = basicConv(b, "conv2", x, g(64, 64, 1, 1, 0))
	x = basicConv(b, "conv3", x, g(64, 192, 3, 1, 1))
	x = mp("maxpool2", x, 3)
	x = inceptionV1(b, "inception3a", x, 192, 64, 96, 128, 16, 32, 32)
	x = inceptionV1(b, "inception3b", x, 256, 128, 128, 192, 32, 96, 64)
	x = mp("maxpool3", x, 3)
	x = inceptionV1(b, "inception4a", x, 480, 192, 96, 208, 16, 48, 64)
	aux1In := x
	x = inceptionV1(b, "inception4b", x, 512, 160, 112, 224, 24, 64, 64)
	x = inceptionV1(b, "inception4c", x, 512, 128, 128, 256, 24, 64, 64)
	x = inceptionV1(b, "inception4d", x, 512, 112, 144, 288, 32, 64, 64)
	aux2In := x
	x = inceptionV1(b, "inception4e", x, 528, 256, 160, 320, 32, 128, 128)
	x = mp("maxpool4", x, 2)
	x = inceptionV1(b, "inception5a", x, 832, 256, 160, 320, 32, 128, 128)
	x = inceptionV1(b, "inception5b", x, 832, 384, 192, 384, 48, 128, 128)
	if o.auxLogits {
		auxV1(b, "aux1", aux1In, 512, o.numClasses)
		auxV1(b, "aux2", aux2In, 528, o.numClasses)
	}
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(1))
	x = b.Flatten("", x) // torch.flatten(x, 1)
	x = b.Dropout("dropout", x)
	b.Linear("fc", x, 1024, o.numClasses, true)
	return b
}

// inceptionV1 is GoogLeNet's Inception block. branch3 uses a 3x3 kernel
// where the paper has 5x5, as torchvision does.
func inceptionV1(b *nn.Builder, name string, x nn.Value, in, ch1x1, ch3x3red, ch3x3, ch5x5red, ch5x5, poolProj int64) nn.Value {
	g := func(in, out, k, p int64) conv {
		return conv{in: in, out: out, k: sq(k), p: sq(p), initStd: 0.01}
	}
	seq := func(name string, x nn.Value, f func(x nn.Value) nn.Value) nn.Value {
		return b.Module(name, "Sequential", func() nn.Value { return f(x) })
	}
	return b.Module(name, "Inception", func() nn.Value {
		b1 := basicConv(b, "branch1", x, g(in, ch1x1, 1, 0))
		b2 := seq("branch2", x, func(x nn.Value) nn.Value {
			return basicConv(b, "1", basicConv(b, "0", x, g(in, ch3x3red, 1, 0)), g(ch3x3red, ch3x3, 3, 1))
		})
		b3 := seq("branch3", x, func(x nn.Value) nn.Value {
			return basicConv(b, "1", basicConv(b, "0", x, g(in, ch5x5red, 1, 0)), g(ch5x5red, ch5x5, 3, 1))
		})
		b4 := seq("branch4", x, func(x nn.Value) nn.Value {
			p := b.MaxPool2d("0", x, nn.Pool{Kernel: sq(3), Stride: sq(1), Padding: sq(1), CeilMode: true})
			return basicConv(b, "1", p, g(in, poolProj, 1, 0))
		})
		return b.Concat("", 1, b1, b2, b3, b4)
	})
}

// auxV1 is GoogLeNet's InceptionAux; its dropout is the identity at
// inference.
func auxV1(b *nn.Builder, name string, x nn.Value, in, numClasses int64) nn.Value {
	return b.Module(name, "InceptionAux", func() nn.Value {
		y := b.AdaptiveAvgPool2d("", x, nn.P(4))
		y = basicConv(b, "conv", y, conv{in: in, out: 128, k: sq(1), initStd: 0.01})
		y = b.Flatten("", y)
		y = b.ReLU("", b.Linear("fc1", y, 2048, 1024, true))
		y = b.Dropout("dropout", y)
		return b.Linear("fc2", y, 1024, numClasses, true)
	})
}
