package autoencoder

import (
	"strconv"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

const inputName = "input"

// net is one autoencoder: conv (ConvAutoencoder) or mlp (MLPAutoencoder)
// as testdata/autoencoder.py defines them.
type net struct {
	arch       string  // "conv_autoencoder" or "mlp_autoencoder"
	conv       bool    // ConvAutoencoder
	inChannels int64   // conv only
	inputSize  int64   // conv: height and width; mlp: features
	widths     []int64 // conv: channels; mlp: hidden sizes
	latent     int64
}

// Input is [N, C, S, S] or [N, F] float32, of the sizes the options set.
func (n *net) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: n.DefaultInput(), DType: sdk.Float32}
}

func (n *net) DefaultInput() []int64 {
	if n.conv {
		return []int64{-1, n.inChannels, n.inputSize, n.inputSize}
	}
	return []int64{-1, n.inputSize}
}

func (n *net) DefaultLayer() string { return "latent" }

func itoa(i int) string { return strconv.Itoa(i) }

// Build records the forward pass: latent = encoder(x), reconstruction =
// decoder(latent), mse = per-sample mean squared error.
func (n *net) Build(input []int64) *nn.Builder {
	b := nn.NewBuilder(map[bool]string{true: "ConvAutoencoder", false: "MLPAutoencoder"}[n.conv])
	x := b.Input(inputName, input, 0)
	var z, r nn.Value
	if n.conv {
		depth := len(n.widths)
		s := n.inputSize >> depth
		last := n.widths[depth-1]
		z = b.Module("encoder", "Sequential", func() nn.Value {
			h, prev, i := x, n.inChannels, 0
			for _, w := range n.widths {
				h = b.Conv2d(itoa(i), h, nn.Conv2d{In: prev, Out: w, Kernel: nn.P(3), Stride: nn.P(2), Padding: nn.P(1), Bias: true})
				h = b.ReLU(itoa(i+1), h)
				prev, i = w, i+2
			}
			h = b.Flatten(itoa(i), h)
			return b.Linear(itoa(i+1), h, last*s*s, n.latent, true)
		})
		r = b.Module("decoder", "Sequential", func() nn.Value {
			h := b.Linear("0", z, n.latent, last*s*s, true)
			h = b.ReLU("1", h)
			h = b.Unflatten("2", h, last, s, s)
			outs := append([]int64{n.inChannels}, n.widths[:depth-1]...)
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
			h, prev, i := x, n.inputSize, 0
			for _, w := range n.widths {
				h = b.Linear(itoa(i), h, prev, w, true)
				h = b.ReLU(itoa(i+1), h)
				prev, i = w, i+2
			}
			return b.Linear(itoa(i), h, prev, n.latent, true)
		})
		r = b.Module("decoder", "Sequential", func() nn.Value {
			h, prev, i := z, n.latent, 0
			for k := len(n.widths) - 1; k >= 0; k-- {
				h = b.Linear(itoa(i), h, prev, n.widths[k], true)
				h = b.ReLU(itoa(i+1), h)
				prev, i = n.widths[k], i+2
			}
			h = b.Linear(itoa(i), h, prev, n.inputSize, true)
			return b.Sigmoid(itoa(i+1), h)
		})
	}
	b.Alias("latent", "Latent", z)
	b.Alias("reconstruction", "Reconstruction", r)
	b.SquaredError("mse", "ReconstructionMSE", r, x)
	return b
}
