package regnet

import (
	"math"
	"strconv"

	"github.com/gozoo/gozoo/sdk/nn"
)

// arch is one torchvision RegNet variant: the arguments of its
// BlockParams.from_init_params call.
type arch struct {
	name       string
	depth      int     // blocks in all
	w0         int64   // initial width
	wa, wm     float64 // width slope and log-space step
	groupWidth int64
	se         bool // regnet_y: squeeze-excitation with se_ratio 0.25
}

// archs lists the variants exactly as torchvision 0.14 defines them.
var archs = []arch{
	{"regnet_y_400mf", 16, 48, 27.89, 2.09, 8, true},
	{"regnet_y_800mf", 14, 56, 38.84, 2.4, 16, true},
	{"regnet_y_1_6gf", 27, 48, 20.71, 2.65, 24, true},
	{"regnet_y_3_2gf", 21, 80, 42.63, 2.66, 24, true},
	{"regnet_y_8gf", 17, 192, 76.82, 2.19, 56, true},
	{"regnet_y_16gf", 18, 200, 106.23, 2.48, 112, true},
	{"regnet_y_32gf", 20, 232, 115.89, 2.53, 232, true},
	{"regnet_y_128gf", 27, 456, 160.83, 2.52, 264, true},
	{"regnet_x_400mf", 22, 24, 24.48, 2.54, 16, false},
	{"regnet_x_800mf", 16, 56, 35.73, 2.28, 16, false},
	{"regnet_x_1_6gf", 18, 80, 34.01, 2.25, 24, false},
	{"regnet_x_3_2gf", 25, 88, 26.31, 2.25, 48, false},
	{"regnet_x_8gf", 23, 80, 49.56, 2.88, 120, false},
	{"regnet_x_16gf", 22, 216, 55.59, 2.1, 128, false},
	{"regnet_x_32gf", 23, 320, 69.86, 2.0, 168, false},
}

const (
	stemWidth = 32
	seRatio   = 0.25
	quant     = 8 // block widths are multiples of 8
)

// stage is one AnyStage: depth blocks of width out and group width
// group, the first with stride 2.
type stage struct {
	out, group int64
	depth      int
}

// stages is torchvision's BlockParams.from_init_params (bottleneck
// multiplier 1): block i's width is w0 * wm^round(log((i*wa + w0) / w0) /
// log(wm)), quantised to a multiple of 8, computed in float32 as torch
// computes it; runs of equal widths make the stages, and each stage's
// width and group width are then made compatible
// (_adjust_widths_groups_compatibilty).
func (a arch) stages() []stage {
	logWm := float32(math.Log(a.wm))
	var out []stage
	for i := range a.depth {
		cont := float32(i)*float32(a.wa) + float32(a.w0)
		capacity := float32(math.RoundToEven(float64(log32(cont/float32(a.w0)) / logWm)))
		w := float32(a.w0) * pow32(float32(a.wm), capacity)
		width := int64(math.RoundToEven(float64(w/quant))) * quant
		if n := len(out); n > 0 && out[n-1].out == width {
			out[n-1].depth++
			continue
		}
		out = append(out, stage{out: width, depth: 1})
	}
	for i := range out {
		g := min(a.groupWidth, out[i].out)
		out[i].out = nn.MakeDivisible(float64(out[i].out), g)
		out[i].group = g
	}
	return out
}

func log32(x float32) float32    { return float32(math.Log(float64(x))) }
func pow32(x, y float32) float32 { return float32(math.Pow(float64(x), float64(y))) }

// convInit is RegNet's conv init: N(0, 2/fan_out), fan_out = kh*kw*out.
var convInit = nn.Init{Kind: nn.InitKaimingNormalFanOut}

// build records torchvision's RegNet.forward for an input of the given
// shape ([N, 3, H, W], N -1) into a new Builder.
func (a arch) build(numClasses int64, input []int64) *nn.Builder {
	b := nn.NewBuilder("RegNet")
	x := b.Input("input", input, 0, 2, 3)
	x = b.Conv2dNormActivation("stem", x, nn.Conv2dNormActivation{
		Conv:       nn.Conv2d{In: 3, Out: stemWidth, Kernel: nn.P(3), Stride: nn.P(2), WeightInit: convInit},
		Activation: b.ReLU, Kind: "SimpleStemIN"})
	width := int64(stemWidth)
	x = b.Module("trunk_output", "Sequential", func() nn.Value {
		for i, s := range a.stages() {
			name := "block" + strconv.Itoa(i+1)
			x = b.Module(name, "AnyStage", func() nn.Value {
				for j := range s.depth {
					stride := int64(1)
					if j == 0 {
						stride = 2
					}
					x = a.block(b, name+"-"+strconv.Itoa(j), x, width, s.out, stride, s.group)
					width = s.out
				}
				return x
			})
		}
		return x
	})
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(1))
	x = b.Flatten("", x) // x.flatten(start_dim=1)
	b.Linear("fc", x, width, numClasses, true)
	return b
}

// block is ResBottleneckBlock: a projection of the input when its shape
// changes (proj), the BottleneckTransform f, their sum and a ReLU.
func (a arch) block(b *nn.Builder, name string, x nn.Value, in, out, stride, groupWidth int64) nn.Value {
	return b.Module(name, "ResBottleneckBlock", func() nn.Value {
		shortcut := x
		if in != out || stride != 1 {
			shortcut = cna(b, "proj", x, in, out, 1, stride, 1, nil)
		}
		f := b.Module("f", "BottleneckTransform", func() nn.Value {
			wb := out // width_out * bottleneck_multiplier 1
			y := cna(b, "a", x, in, wb, 1, 1, 1, b.ReLU)
			y = cna(b, "b", y, wb, wb, 3, stride, wb/groupWidth, b.ReLU)
			if a.se {
				// The SE ratio is of the block's input width.
				sq := int64(math.RoundToEven(seRatio * float64(in)))
				y = b.SqueezeExcitation("se", y, nn.SqueezeExcitation{Channels: wb, Squeeze: sq, WeightInit: convInit})
			}
			return cna(b, "c", y, wb, out, 1, 1, 1, nil)
		})
		return b.ReLU("activation", b.Add("", shortcut, f))
	})
}

// cna is a Conv2dNormActivation with RegNet's conv init and eps 1e-5.
func cna(b *nn.Builder, name string, x nn.Value, in, out, kernel, stride, groups int64, act nn.Activation) nn.Value {
	return b.Conv2dNormActivation(name, x, nn.Conv2dNormActivation{
		Conv:       nn.Conv2d{In: in, Out: out, Kernel: nn.P(kernel), Stride: nn.P(stride), Groups: groups, WeightInit: convInit},
		Activation: act})
}
