package autoencoder

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

// Family is the autoencoder family on the shared backbone runtime.
var Family = backbone.Family{Name: "autoencoder", Version: Version, Archs: []backbone.Arch{
	{
		Name:  "conv_autoencoder",
		Doc:   "ConvAutoencoder of plugins/autoencoder/testdata/autoencoder.py",
		Input: sdk.InputSpec{Shape: []int64{-1, 1, 28, 28}, DType: sdk.Float32},
		Options: []backbone.Option{
			{Name: "in_channels", Kind: backbone.Int, Min: 1, Default: "1", Usage: "input channels (from the checkpoint)"},
			{Name: "input_size", Kind: backbone.Int, Min: 1, Default: "28", Usage: "input height and width; divisible by 2^(number of channels) (from the checkpoint)"},
			{Name: "channels", Kind: backbone.String, Default: "16:32", Usage: "encoder conv channels, colon-separated (each conv halves the size; from the checkpoint)"},
			{Name: "latent_size", Kind: backbone.Int, Min: 1, Default: "16", Usage: "latent code size (from the checkpoint)"},
		},
		New:   func(o backbone.Options) (backbone.Net, error) { return newNet(o, true) },
		Infer: inferConv,
	},
	{
		Name:  "mlp_autoencoder",
		Doc:   "MLPAutoencoder of plugins/autoencoder/testdata/autoencoder.py",
		Input: sdk.InputSpec{Shape: []int64{-1, 784}, DType: sdk.Float32},
		Options: []backbone.Option{
			{Name: "input_size", Kind: backbone.Int, Min: 1, Default: "784", Usage: "input features (from the checkpoint)"},
			{Name: "hidden", Kind: backbone.String, Default: "256:64", Usage: "encoder hidden sizes, colon-separated (the decoder mirrors them; from the checkpoint)"},
			{Name: "latent_size", Kind: backbone.Int, Min: 1, Default: "16", Usage: "latent code size (from the checkpoint)"},
		},
		New:   func(o backbone.Options) (backbone.Net, error) { return newNet(o, false) },
		Infer: inferMLP,
	},
}}

// New returns the autoencoder backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// newNet reads the options; the lists are checked here, the numbers by
// the runtime.
func newNet(o backbone.Options, conv bool) (backbone.Net, error) {
	n := &net{arch: o.Arch(), conv: conv, inputSize: o.Int("input_size"), latent: o.Int("latent_size"), inChannels: o.Int("in_channels")}
	name := "hidden"
	if conv {
		name = "channels"
	}
	for _, f := range strings.Split(o.String(name), ":") {
		w, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
		if err != nil || w < 1 {
			return nil, fmt.Errorf("%s: option %s=%q: %w: give positive integers separated by colons, e.g. 16:32", n.arch, name, o.String(name), sdk.ErrBadOption)
		}
		n.widths = append(n.widths, w)
	}
	if depth := len(n.widths); conv && (depth > 16 || n.inputSize%(int64(1)<<depth) != 0) {
		return nil, fmt.Errorf("%s: input_size %d with %d convolutions: %w: input_size must be divisible by 2^%d", n.arch, n.inputSize, depth, sdk.ErrBadOption, depth)
	}
	return n, nil
}

// encoder returns the weight shapes of the encoder's modules with
// parameters: indices 0, 2, 4, ... while their rank is rank.
func encoder(sd map[string]*sdk.Tensor, rank int) [][]int64 {
	var out [][]int64
	for i := 0; ; i += 2 {
		w := sd[fmt.Sprintf("encoder.%d.weight", i)]
		if w == nil || len(w.Shape) != rank {
			return out
		}
		out = append(out, w.Shape)
	}
}

// join writes widths as a colon-separated list.
func join(ws []int64) string {
	s := make([]string, len(ws))
	for i, w := range ws {
		s[i] = strconv.FormatInt(w, 10)
	}
	return strings.Join(s, ":")
}

// inferConv reads in_channels and channels from the encoder's
// convolutions, latent_size from its linear layer and input_size from
// that layer's inputs (channels * s * s, input_size = s * 2^convs).
func inferConv(sd map[string]*sdk.Tensor) (map[string]string, error) {
	convs := encoder(sd, 4)
	if len(convs) == 0 {
		return nil, notOne(sd, "conv_autoencoder", "mlp_autoencoder", 4)
	}
	widths := make([]int64, len(convs))
	for i, c := range convs {
		widths[i] = c[0]
	}
	out := map[string]string{"in_channels": fmt.Sprint(convs[0][1]), "channels": join(widths)}
	lin := sd[fmt.Sprintf("encoder.%d.weight", 2*len(convs)+1)]
	if lin == nil || len(lin.Shape) != 2 {
		return out, nil // the strict match names what is missing
	}
	out["latent_size"] = fmt.Sprint(lin.Shape[0])
	if last, in := widths[len(widths)-1], lin.Shape[1]; last > 0 && in%last == 0 && len(convs) <= 16 {
		if s := int64(math.Round(math.Sqrt(float64(in / last)))); s*s == in/last {
			out["input_size"] = fmt.Sprint(s << len(convs))
		}
	}
	return out, nil
}

// inferMLP reads input_size, hidden and latent_size from the encoder's
// linear layers.
func inferMLP(sd map[string]*sdk.Tensor) (map[string]string, error) {
	lins := encoder(sd, 2)
	if len(lins) == 0 {
		return nil, notOne(sd, "mlp_autoencoder", "conv_autoencoder", 2)
	}
	if len(lins) == 1 {
		return nil, fmt.Errorf("the encoder has one linear layer, no hidden one: %w: mlp_autoencoder needs at least one hidden layer", sdk.ErrWeights)
	}
	widths := make([]int64, len(lins))
	for i, l := range lins {
		widths[i] = l[0]
	}
	return map[string]string{
		"input_size":  fmt.Sprint(lins[0][1]),
		"hidden":      join(widths[:len(widths)-1]),
		"latent_size": fmt.Sprint(widths[len(widths)-1]),
	}, nil
}

// notOne explains a checkpoint whose encoder.0.weight is not of arch.
func notOne(sd map[string]*sdk.Tensor, arch, other string, rank int) error {
	w := sd["encoder.0.weight"]
	if w == nil {
		return fmt.Errorf("no encoder.0.weight: %w: save the state_dict of the %s reference module (testdata/autoencoder.py)", sdk.ErrWeights, arch)
	}
	return fmt.Errorf("encoder.0.weight has shape %s, not %d-d: %w: the checkpoint looks like a %s; load it with --arch %s",
		sdk.FormatShape(w.Shape), rank, sdk.ErrWeights, other, other)
}
