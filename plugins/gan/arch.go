package gan

import (
	"strconv"

	"github.com/gozoo/gozoo/sdk/nn"
)

// Sizes bound image_size: the smallest and largest discriminator.
const (
	minImageSize = 32
	maxImageSize = 256
)

// slope is the LeakyReLU negative slope of every block.
const slope = 0.2

// convInit is the DCGAN tutorial's weights_init for convolutions:
// N(0, 0.02).
var convInit = nn.Normal(0, 0.02)

// disc is the DCGAN discriminator, generalised from the tutorial's 64x64
// to any image size 2^k from 32 to 256: blocks() stride-2 blocks take the
// image to 4x4, block i having ndf*2^i channels, and a final 4x4 conv
// with no padding gives one logit, which a Sigmoid turns into a
// probability. Block 0 has no BatchNorm, as in the tutorial; with
// batchNorm false no block has one (as spectral-norm discriminators are
// often written). The tutorial's convs have no bias; bias gives every
// conv one.
type disc struct {
	imageSize int64
	ndf, nc   int64
	batchNorm bool
	bias      bool
	sn        nn.SpectralNorm
}

// blocks returns the number of stride-2 blocks, log2(imageSize) - 2: 3
// at 32, 4 at 64 (the tutorial's), 5 at 128, 6 at 256.
func (d disc) blocks() int {
	n := 0
	for s := d.imageSize; s > 4; s /= 2 {
		n++
	}
	return n
}

// conv returns the index in main of block i's conv; conv(blocks()) is
// the final conv. With BatchNorm block 0 takes two indices (conv, relu)
// and every later block three (conv, bn, relu); without, every block
// takes two.
func (d disc) conv(i int) int {
	switch {
	case i == 0:
		return 0
	case d.batchNorm:
		return 3*i - 1
	}
	return 2 * i
}

// relu returns the index in main of block i's LeakyReLU, the block's
// output.
func (d disc) relu(i int) int {
	if i > 0 && d.batchNorm {
		return d.conv(i) + 2
	}
	return d.conv(i) + 1
}

// width returns block i's output channels, ndf * 2^i.
func (d disc) width(i int) int64 { return d.ndf << i }

// build records Discriminator.forward (self.main(input)) for an input of
// the given shape, [N, nc, imageSize, imageSize] with N -1.
func (d disc) build(input []int64) *nn.Builder {
	b := nn.NewBuilder("Discriminator")
	x := b.Input(inputName, input, 0)
	b.Module("main", "Sequential", func() nn.Value {
		in := d.nc
		n := d.blocks()
		for i := range n {
			j := d.conv(i)
			x = b.Conv2d(itoa(j), x, nn.Conv2d{In: in, Out: d.width(i), Kernel: nn.P(4), Stride: nn.P(2), Padding: nn.P(1),
				Bias: d.bias, WeightInit: convInit, SpectralNorm: d.sn})
			if i > 0 && d.batchNorm {
				x = b.BatchNorm2d(itoa(j+1), x, d.width(i))
			}
			x = b.LeakyReLU(itoa(d.relu(i)), x, slope)
			in = d.width(i)
		}
		j := d.conv(n)
		x = b.Conv2d(itoa(j), x, nn.Conv2d{In: in, Out: 1, Kernel: nn.P(4), Bias: d.bias, WeightInit: convInit, SpectralNorm: d.sn})
		return b.Sigmoid(itoa(j+1), x)
	})
	return b
}

func itoa(i int) string { return strconv.Itoa(i) }
