package efficientnet

import (
	"math"
	"strconv"

	"github.com/gozoo/gozoo/sdk/nn"
)

// stage is one row of torchvision's inverted_residual_setting
// (MBConvConfig or FusedMBConvConfig), before width and depth scaling.
type stage struct {
	fused   bool    // FusedMBConv (EfficientNetV2's first stages) or MBConv
	expand  float64 // expand_ratio
	kernel  int64
	stride  int64
	in, out int64 // input_channels, out_channels
	layers  int   // num_layers
}

// EfficientNet-B0's stages (Table 1 of the EfficientNet paper), scaled by
// width_mult and depth_mult for B1 to B7.
var v1Stages = []stage{
	{false, 1, 3, 1, 32, 16, 1},
	{false, 6, 3, 2, 16, 24, 2},
	{false, 6, 5, 2, 24, 40, 2},
	{false, 6, 3, 2, 40, 80, 3},
	{false, 6, 5, 1, 80, 112, 3},
	{false, 6, 5, 2, 112, 192, 4},
	{false, 6, 3, 1, 192, 320, 1},
}

// EfficientNetV2's stages (Table 4 of the EfficientNetV2 paper and
// torchvision's M and L).
var (
	v2sStages = []stage{
		{true, 1, 3, 1, 24, 24, 2},
		{true, 4, 3, 2, 24, 48, 4},
		{true, 4, 3, 2, 48, 64, 4},
		{false, 4, 3, 2, 64, 128, 6},
		{false, 6, 3, 1, 128, 160, 9},
		{false, 6, 3, 2, 160, 256, 15},
	}
	v2mStages = []stage{
		{true, 1, 3, 1, 24, 24, 3},
		{true, 4, 3, 2, 24, 48, 5},
		{true, 4, 3, 2, 48, 80, 5},
		{false, 4, 3, 2, 80, 160, 7},
		{false, 6, 3, 1, 160, 176, 14},
		{false, 6, 3, 2, 176, 304, 18},
		{false, 6, 3, 1, 304, 512, 5},
	}
	v2lStages = []stage{
		{true, 1, 3, 1, 32, 32, 4},
		{true, 4, 3, 2, 32, 64, 7},
		{true, 4, 3, 2, 64, 96, 7},
		{false, 4, 3, 2, 96, 192, 10},
		{false, 6, 3, 1, 192, 224, 19},
		{false, 6, 3, 2, 224, 384, 25},
		{false, 6, 3, 1, 384, 640, 7},
	}
)

// arch is one torchvision EfficientNet variant.
type arch struct {
	name         string
	doc          string
	stages       []stage
	width, depth float64 // width_mult, depth_mult
	last         int64   // last_channel; 0 means 4 * the last stage's out
	eps          float32 // BatchNorm2d eps
	size         int64   // the eval crop of torchvision's weights
}

// archs lists the variants exactly as torchvision 0.14 defines them. B0
// to B4 keep BatchNorm2d's default eps (1e-5); torchvision builds B5 to
// B7 and every V2 with eps 1e-3.
var archs = []arch{
	{"efficientnet_b0", "EfficientNet-B0", v1Stages, 1.0, 1.0, 0, 1e-5, 224},
	{"efficientnet_b1", "EfficientNet-B1", v1Stages, 1.0, 1.1, 0, 1e-5, 240},
	{"efficientnet_b2", "EfficientNet-B2", v1Stages, 1.1, 1.2, 0, 1e-5, 288},
	{"efficientnet_b3", "EfficientNet-B3", v1Stages, 1.2, 1.4, 0, 1e-5, 300},
	{"efficientnet_b4", "EfficientNet-B4", v1Stages, 1.4, 1.8, 0, 1e-5, 380},
	{"efficientnet_b5", "EfficientNet-B5", v1Stages, 1.6, 2.2, 0, 1e-3, 456},
	{"efficientnet_b6", "EfficientNet-B6", v1Stages, 1.8, 2.6, 0, 1e-3, 528},
	{"efficientnet_b7", "EfficientNet-B7", v1Stages, 2.0, 3.1, 0, 1e-3, 600},
	{"efficientnet_v2_s", "EfficientNetV2-S (FusedMBConv)", v2sStages, 1.0, 1.0, 1280, 1e-3, 384},
	{"efficientnet_v2_m", "EfficientNetV2-M (FusedMBConv)", v2mStages, 1.0, 1.0, 1280, 1e-3, 480},
	{"efficientnet_v2_l", "EfficientNetV2-L (FusedMBConv)", v2lStages, 1.0, 1.0, 1280, 1e-3, 480},
}

// scaled returns the stages as torchvision's configs hold them:
// channels by adjust_channels (width_mult, a multiple of 8) and depths
// by adjust_depth (ceil(num_layers * depth_mult)). With the V2 factors of
// 1 both leave the V2 tables as they are.
func (a arch) scaled() []stage {
	out := make([]stage, len(a.stages))
	for i, s := range a.stages {
		s.in = nn.MakeDivisible(float64(s.in)*a.width, 8)
		s.out = nn.MakeDivisible(float64(s.out)*a.width, 8)
		s.layers = int(math.Ceil(float64(s.layers) * a.depth))
		out[i] = s
	}
	return out
}

// lastChannels is the output of the conv before the pool.
func (a arch) lastChannels() int64 {
	if a.last > 0 {
		return a.last
	}
	s := a.scaled()
	return 4 * s[len(s)-1].out
}

// convInit is EfficientNet's conv init: kaiming_normal_(mode="fan_out").
var convInit = nn.Init{Kind: nn.InitKaimingNormalFanOut}

// build records torchvision's EfficientNet.forward for an input of the
// given shape ([N, 3, H, W], N -1) into a new Builder.
func (a arch) build(numClasses int64, input []int64) *nn.Builder {
	b := nn.NewBuilder("EfficientNet")
	x := b.Input("input", input, 0, 2, 3)
	stages := a.scaled()
	last := a.lastChannels()
	x = b.Module("features", "Sequential", func() nn.Value {
		x = b.Conv2dNormActivation("0", x, nn.Conv2dNormActivation{
			Conv: nn.Conv2d{In: 3, Out: stages[0].in, Kernel: nn.P(3), Stride: nn.P(2), WeightInit: convInit},
			Eps:  a.eps, Activation: b.SiLU})
		for i, s := range stages {
			x = b.Module(strconv.Itoa(i+1), "Sequential", func() nn.Value {
				for j := range s.layers {
					c := s
					if j > 0 { // torchvision's block_cnf for a stage's later blocks
						c.in, c.stride = c.out, 1
					}
					x = a.block(b, strconv.Itoa(j), x, c)
				}
				return x
			})
		}
		return b.Conv2dNormActivation(strconv.Itoa(len(stages)+1), x, nn.Conv2dNormActivation{
			Conv: nn.Conv2d{In: stages[len(stages)-1].out, Out: last, Kernel: nn.P(1), WeightInit: convInit},
			Eps:  a.eps, Activation: b.SiLU})
	})
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(1))
	x = b.Flatten("", x) // torch.flatten(x, 1)
	b.Module("classifier", "Sequential", func() nn.Value {
		return b.Linear("1", b.Dropout("0", x), last, numClasses, true)
	})
	return b
}

// block is MBConv or FusedMBConv for one block's config c. A block whose
// input and output agree (stride 1, equal channels) adds its input back
// after stochastic_depth, the identity at inference.
func (a arch) block(b *nn.Builder, name string, x nn.Value, c stage) nn.Value {
	kind := "MBConv"
	if c.fused {
		kind = "FusedMBConv"
	}
	return b.Module(name, kind, func() nn.Value {
		y := b.Module("block", "Sequential", func() nn.Value {
			if c.fused {
				return a.fusedLayers(b, x, c)
			}
			return a.layers(b, x, c)
		})
		if c.stride == 1 && c.in == c.out {
			y = b.Alias("stochastic_depth", "StochasticDepth", y)
			y = b.Add("", y, x) // result += input
		}
		return y
	})
}

// cna is a Conv2dNormActivation with the arch's eps and conv init.
func (a arch) cna(b *nn.Builder, name string, x nn.Value, in, out, kernel, stride, groups int64, act nn.Activation) nn.Value {
	return b.Conv2dNormActivation(name, x, nn.Conv2dNormActivation{
		Conv: nn.Conv2d{In: in, Out: out, Kernel: nn.P(kernel), Stride: nn.P(stride), Groups: groups, WeightInit: convInit},
		Eps:  a.eps, Activation: act})
}

// layers is MBConv's block: a 1x1 expansion (when expand_ratio makes
// more channels), the depthwise conv, squeeze-and-excitation (SiLU,
// squeezing to a quarter of the block's input channels) and the 1x1
// projection without activation, numbered in that order.
func (a arch) layers(b *nn.Builder, x nn.Value, c stage) nn.Value {
	expanded := nn.MakeDivisible(float64(c.in)*c.expand, 8)
	i := 0
	next := func() string { i++; return strconv.Itoa(i - 1) }
	if expanded != c.in {
		x = a.cna(b, next(), x, c.in, expanded, 1, 1, 1, b.SiLU)
	}
	x = a.cna(b, next(), x, expanded, expanded, c.kernel, c.stride, expanded, b.SiLU)
	x = b.SqueezeExcitation(next(), x, nn.SqueezeExcitation{Channels: expanded, Squeeze: max(1, c.in/4), Activation: b.SiLU, WeightInit: convInit})
	return a.cna(b, next(), x, expanded, c.out, 1, 1, 1, nil)
}

// fusedLayers is FusedMBConv's block: one full conv that expands (then a
// 1x1 projection), or, with expand_ratio 1, one conv to the output.
func (a arch) fusedLayers(b *nn.Builder, x nn.Value, c stage) nn.Value {
	expanded := nn.MakeDivisible(float64(c.in)*c.expand, 8)
	if expanded == c.in {
		return a.cna(b, "0", x, c.in, c.out, c.kernel, c.stride, 1, b.SiLU)
	}
	x = a.cna(b, "0", x, c.in, expanded, c.kernel, c.stride, 1, b.SiLU)
	return a.cna(b, "1", x, expanded, c.out, 1, 1, 1, nil)
}
