package mobilenet

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// shufflenetRepeats is ShuffleNetV2's stages_repeats for stage2..stage4.
var shufflenetRepeats = [3]int{4, 8, 4}

// shufflenet returns the builder of torchvision's ShuffleNetV2 with the
// given stages_out_channels (conv1, stage2..stage4, conv5): conv1,
// maxpool, the three stages, conv5, x.mean([2, 3]) as the layer "mean",
// and fc. BatchNorm eps is torch's default 1e-5.
func shufflenet(channels [5]int64) func(b *nn.Builder, x nn.Value, numClasses int64) {
	return func(b *nn.Builder, x nn.Value, numClasses int64) {
		const eps = 1e-5
		x = b.Module("conv1", "Sequential", func() nn.Value {
			x = b.Conv2d("0", x, nn.Conv2d{In: 3, Out: channels[0], Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1), WeightInit: convInit})
			x = b.BatchNorm2dEps("1", x, channels[0], eps)
			return b.ReLU("2", x)
		})
		x = b.MaxPool2d("maxpool", x, nn.Pool{Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1)})
		in := channels[0]
		for i, n := range shufflenetRepeats {
			out := channels[i+1]
			x = b.Module("stage"+itoa(i+2), "Sequential", func() nn.Value {
				for j := range n {
					if j == 0 {
						x = shuffleBlock(b, "0", x, in, out, 2)
					} else {
						x = shuffleBlock(b, itoa(j), x, out, out, 1)
					}
				}
				return x
			})
			in = out
		}
		x = b.Module("conv5", "Sequential", func() nn.Value {
			x = conv(b, "0", x, in, channels[4], 1, 1, 1)
			x = b.BatchNorm2dEps("1", x, channels[4], eps)
			return b.ReLU("2", x)
		})
		x = globalMean(b, x)
		b.Linear("fc", x, channels[4], numClasses, true)
	}
}

// shuffleBlock is ShuffleNetV2's InvertedResidual. With stride 2 both
// branches see the input (branch1: depthwise conv, norm, 1x1 conv, norm,
// ReLU); with stride 1 the input's first half passes through and
// branch2 takes the second (torchvision's empty branch1 is never
// called, so it is no layer). The halves are concatenated and
// channel-shuffled in two groups.
func shuffleBlock(b *nn.Builder, name string, x nn.Value, in, out, stride int64) nn.Value {
	const eps = 1e-5
	f := out / 2
	return b.Module(name, "InvertedResidual", func() nn.Value {
		left, right := x, x
		b2in := in
		if stride > 1 {
			left = b.Module("branch1", "Sequential", func() nn.Value {
				y := conv(b, "0", x, in, in, 3, stride, in)
				y = b.BatchNorm2dEps("1", y, in, eps)
				y = conv(b, "2", y, in, f, 1, 1, 1)
				y = b.BatchNorm2dEps("3", y, f, eps)
				return b.ReLU("4", y)
			})
		} else {
			halves := b.Split(x, 1, 2)
			left, right = halves[0], halves[1]
			b2in = f
		}
		right = b.Module("branch2", "Sequential", func() nn.Value {
			y := conv(b, "0", right, b2in, f, 1, 1, 1)
			y = b.BatchNorm2dEps("1", y, f, eps)
			y = b.ReLU("2", y)
			y = conv(b, "3", y, f, f, 3, stride, f)
			y = b.BatchNorm2dEps("4", y, f, eps)
			y = conv(b, "5", y, f, f, 1, 1, 1)
			y = b.BatchNorm2dEps("6", y, f, eps)
			return b.ReLU("7", y)
		})
		return b.ChannelShuffle("", b.Concat("", 1, left, right), 2)
	})
}
