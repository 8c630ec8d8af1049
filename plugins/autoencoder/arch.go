package autoencoder

import (
	"strconv"

	"github.com/gozoo/gozoo/sdk/nn"
)

const inputName = "input"

// config is one autoencoder: conv (ConvAutoencoder) or mlp
// (MLPAutoencoder) as testdata/autoencoder.py defines them.
type config struct {
	arch       string  // "conv_autoencoder" or "mlp_autoencoder"
	conv       bool    // ConvAutoencoder
	inChannels int64   // conv only
	inputSize  int64   // conv: height and width; mlp: features
	widths     []int64 // conv: channels; mlp: hidden sizes
	latent     int64
}

// inputShape is [-1, C, S, S] or [-1, F].
func (c *config) inputShape() []int64 {
	if c.conv {
		return []int64{-1, c.inChannels, c.inputSize, c.inputSize}
	}
	return []int64{-1, c.inputSize}
}

func itoa(i int) string { return strconv.Itoa(i) }

// build records the forward pass: latent = encoder(x), reconstruction =
// decoder(latent), mse = per-sample mean squared error.
func (c *config) build() *nn.Builder {
	b := nn.NewBuilder(map[bool]string{true: "ConvAutoencoder", false: "MLPAutoencoder"}[c.conv])
	x := b.Input(inputName, c.inputShape(), 0)
	var z, r nn.Value
	if c.conv {
		depth := len(c.widths)
		s := c.inputSize >> depth
		last := c.widths[depth-1]
		z = b.Module("encoder", "Sequential", func() nn.Value {
			h, prev, i := x, c.inChannels, 0
			for _, w := range c.widths {
				h = b.Conv2d(itoa(i), h, nn.Conv2d{In: prev, Out: w, Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1), Bias: true})
				h = b.ReLU(itoa(i+1), h)
				prev, i = w, i+2
			}
			h = b.Flatten(itoa(i), h)
			return b.Linear(itoa(i+1), h, last*s*s, c.latent, true)
		})
		r = b.Module("decoder", "Sequential", func() nn.Value {
			h := b.Linear("0", z, c.latent, last*s*s, true)
			h = b.ReLU("1", h)
			h = b.Unflatten("2", h, last, s, s)
			outs := append([]int64{c.inChannels}, c.widths[:depth-1]...)
			prev, i := last, 3
			for k := len(outs) - 1; k >= 0; k-- {
				h = b.ConvTranspose2d(itoa(i), h, nn.ConvTranspose2d{In: prev, Out: outs[k], Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1), OutputPadding: nn.P(1), Bias: true})
				if k == 0 {
					h = b.Sigmoid(itoa(i+1), h)
				} else {
					h = b.ReLU(itoa(i+1), h)
				}
				prev, i = outs[k], i+2
			}
			return h
		})
	} else {
		z = b.Module("encoder", "Sequential", func() nn.Value {
			h, prev, i := x, c.inputSize, 0
			for _, w := range c.widths {
				h = b.Linear(itoa(i), h, prev, w, true)
				h = b.ReLU(itoa(i+1), h)
				prev, i = w, i+2
			}
			return b.Linear(itoa(i), h, prev, c.latent, true)
		})
		r = b.Module("decoder", "Sequential", func() nn.Value {
			h, prev, i := z, c.latent, 0
			for k := len(c.widths) - 1; k >= 0; k-- {
				h = b.Linear(itoa(i), h, prev, c.widths[k], true)
				h = b.ReLU(itoa(i+1), h)
				prev, i = c.widths[k], i+2
			}
			h = b.Linear(itoa(i), h, prev, c.inputSize, true)
			return b.Sigmoid(itoa(i+1), h)
		})
	}
	b.Alias("latent", "Latent", z)
	b.Alias("reconstruction", "Reconstruction", r)
	b.SquaredError("mse", "ReconstructionMSE", r, x)
	return b
}
