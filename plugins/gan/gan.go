package gan

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const inputName = "input"

// The architectures' names.
const (
	archDCGAN   = "dcgan_discriminator"
	archSNDCGAN = "sn_dcgan_discriminator"
)

// The values of the spectral_norm option: which of torch's spectral_norm
// functions saved the checkpoint.
var snStyles = map[string]nn.SpectralNorm{
	"hook":             nn.SpectralNormHook,
	"parametrizations": nn.SpectralNormParametrized,
}

// options are both archs' options; sn_dcgan_discriminator adds
// spectral_norm.
var options = []backbone.Option{
	{Name: "image_size", Kind: backbone.Int, Min: minImageSize, Max: maxImageSize, Default: "64",
		Usage: "input height and width, a power of two from 32 to 256; sets the number of stride-2 blocks (log2(image_size) - 2); read from the checkpoint"},
	{Name: "ndf", Kind: backbone.Int, Min: 1, Max: 4096, Default: "64",
		Usage: "channels of the first block (block i has ndf*2^i); read from the checkpoint"},
	{Name: "nc", Kind: backbone.Int, Min: 1, Max: 4096, Default: "3",
		Usage: "input channels; read from the checkpoint"},
	{Name: "batch_norm", Kind: backbone.Bool, Default: "true",
		Usage: "a BatchNorm2d after every conv but the first and the last, as in the DCGAN tutorial; read from the checkpoint"},
	{Name: "bias", Kind: backbone.Bool, Default: "false",
		Usage: "convolutions with a bias (the tutorial's have none); read from the checkpoint"},
}

var snOption = backbone.Option{Name: "spectral_norm", Kind: backbone.String, Default: "parametrizations",
	Choices: []string{"hook", "parametrizations"},
	Usage:   "the checkpoint's layout: hook (torch.nn.utils.spectral_norm: weight_orig, weight_u, weight_v) or parametrizations (torch.nn.utils.parametrizations.spectral_norm); read from the checkpoint"}

var defaultInput = sdk.InputSpec{Shape: []int64{-1, 3, 64, 64}, DType: sdk.Float32}

// Family is the GAN discriminator family on the shared backbone runtime.
var Family = backbone.Family{
	Name:    "gan",
	Version: Version,
	Archs: []backbone.Arch{
		{
			Name:    archDCGAN,
			Doc:     "DCGAN discriminator of PyTorch's DCGAN tutorial, for image sizes 32 to 256",
			Input:   defaultInput,
			Options: options,
			Infer:   func(sd map[string]*sdk.Tensor) (map[string]string, error) { return infer(archDCGAN, sd) },
			New:     configure,
		},
		{
			Name:    archSNDCGAN,
			Doc:     "DCGAN discriminator with torch's spectral_norm on every conv, for image sizes 32 to 256",
			Input:   defaultInput,
			Options: append(slices.Clone(options), snOption),
			Infer:   func(sd map[string]*sdk.Tensor) (map[string]string, error) { return infer(archSNDCGAN, sd) },
			New:     configure,
		},
	},
}

// New returns the GAN discriminator backbone. It is safe for concurrent
// use.
func New() sdk.Backbone { return backbone.New(Family) }

func configure(o backbone.Options) (backbone.Net, error) {
	s := o.Int("image_size")
	if s&(s-1) != 0 {
		return nil, fmt.Errorf("%s: option image_size=%d: %w: give a power of two from %d to %d (32, 64, 128 or 256)",
			o.Arch(), s, sdk.ErrBadOption, minImageSize, maxImageSize)
	}
	d := disc{imageSize: s, ndf: o.Int("ndf"), nc: o.Int("nc"), batchNorm: o.Bool("batch_norm"), bias: o.Bool("bias")}
	if o.Arch() == archSNDCGAN {
		d.sn = snStyles[o.String("spectral_norm")]
	}
	return &net{disc: d, arch: o.Arch()}, nil
}

// The suffixes of a conv's weight under main.N in each layout.
const (
	keyPlain  = "weight"
	keyHook   = "weight_orig"
	keyParams = "parametrizations.weight.original"
)

var styleOf = map[string]string{keyPlain: "plain", keyHook: "hook", keyParams: "parametrizations"}

var mainKey = regexp.MustCompile(`^main\.(\d+)\.(.+)$`)

// infer reads the options a checkpoint's keys and shapes determine: ndf
// and nc from main.0's weight, image_size from the number of convs,
// batch_norm from running statistics, bias from main.0.bias and, for
// sn_dcgan_discriminator, spectral_norm from the weights' names. A
// checkpoint that is not a DCGAN discriminator of arch's kind is an
// error saying what it looks like.
func infer(arch string, sd map[string]*sdk.Tensor) (map[string]string, error) {
	convs := map[int]string{} // index -> weight suffix
	var first *sdk.Tensor
	bn, bias := false, false
	var legacy string
	for k, t := range sd {
		m := mainKey.FindStringSubmatch(k)
		if m == nil {
			continue
		}
		i, err := strconv.Atoi(m[1])
		if err != nil {
			continue
		}
		switch rest := m[2]; rest {
		case keyPlain, keyHook, keyParams:
			if len(t.Shape) != 4 {
				continue // a BatchNorm weight
			}
			if rest == keyPlain && sd[m[0][:len(m[0])-len(rest)]+keyHook] != nil {
				legacy = k
				continue
			}
			convs[i] = rest
			if i == 0 {
				first = t
			}
		case "running_mean":
			bn = true
		case "bias":
			bias = bias || i == 0
		}
	}
	if first == nil {
		return nil, notDiscriminator(sd)
	}
	if legacy != "" {
		return nil, fmt.Errorf("%w: %s next to %s_orig is torch's spectral_norm layout from before torch 1.1, which had no weight_v: load the checkpoint into the model in torch >= 1.1 and save its state_dict again",
			sdk.ErrWeights, legacy, legacy[:len(legacy)-len(keyPlain)]+keyPlain)
	}
	idx := slices.Sorted(maps.Keys(convs))
	styles := map[string][]string{}
	for _, i := range idx {
		s := styleOf[convs[i]]
		styles[s] = append(styles[s], fmt.Sprintf("main.%d.%s", i, convs[i]))
	}
	if len(styles) > 1 {
		var parts []string
		for _, s := range slices.Sorted(maps.Keys(styles)) {
			parts = append(parts, s+" ("+strings.Join(styles[s], ", ")+")")
		}
		return nil, fmt.Errorf("%w: the convolutions mix weight layouts: %s; every conv of a discriminator is saved one way", sdk.ErrWeights, strings.Join(parts, " and "))
	}
	style := styleOf[convs[0]]
	switch {
	case arch == archDCGAN && style != "plain":
		return nil, fmt.Errorf("%w: the checkpoint holds spectral-norm weights (main.0.%s): load it with arch %s", sdk.ErrWeights, convs[0], archSNDCGAN)
	case arch == archSNDCGAN && style == "plain":
		return nil, fmt.Errorf("%w: the checkpoint holds plain conv weights (main.0.weight), not torch spectral_norm's (main.0.weight_orig or main.0.parametrizations.weight.original): load it with arch %s", sdk.ErrWeights, archDCGAN)
	}
	blocks := len(idx) - 1
	if blocks < 3 || blocks > 6 {
		return nil, fmt.Errorf("%w: the checkpoint has %d convolutions under main (%s); a DCGAN discriminator for image sizes %d to %d has 4 to 7 (log2(image_size) - 1)",
			sdk.ErrWeights, len(idx), strings.Join(styles[style], ", "), minImageSize, maxImageSize)
	}
	out := map[string]string{
		"image_size": fmt.Sprint(int64(4) << blocks),
		"ndf":        fmt.Sprint(first.Shape[0]),
		"nc":         fmt.Sprint(first.Shape[1]),
		"batch_norm": fmt.Sprint(bn),
		"bias":       fmt.Sprint(bias),
	}
	if arch == archSNDCGAN {
		out["spectral_norm"] = style
	}
	return out, nil
}

// notDiscriminator explains a checkpoint without main.0's conv weight:
// keys under a prefix, or another model.
func notDiscriminator(sd map[string]*sdk.Tensor) error {
	keys := slices.Sorted(maps.Keys(sd))
	for _, k := range keys {
		for _, suffix := range []string{keyPlain, keyHook, keyParams} {
			if p, ok := strings.CutSuffix(k, "main.0."+suffix); ok && p != "" && strings.HasSuffix(p, ".") {
				return fmt.Errorf("%w: the checkpoint's keys start with %q (%s): load it with option strip_prefix=%s", sdk.ErrWeights, p, k, p)
			}
		}
	}
	some := keys[:min(len(keys), 4)]
	more := ""
	if len(keys) > len(some) {
		more = ", ..."
	}
	return fmt.Errorf("%w: the checkpoint has no main.0 conv weight (main.0.weight, main.0.weight_orig or main.0.parametrizations.weight.original) among its %d keys (%s%s): it is not a DCGAN discriminator's state_dict, whose keys are main.N.* as PyTorch's DCGAN tutorial names them",
		sdk.ErrWeights, len(keys), strings.Join(some, ", "), more)
}

// net is one configured discriminator.
type net struct {
	disc
	arch string
}

func (n *net) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, n.nc, n.imageSize, n.imageSize}, DType: sdk.Float32}
}

func (n *net) DefaultInput() []int64 { return n.Input().Shape }

// DefaultLayer is the last block's LeakyReLU (main.10 at 64x64 with
// BatchNorm): [N, ndf*2^(blocks-1), 4, 4], the features before the
// final conv.
func (n *net) DefaultLayer() string { return "main." + itoa(n.relu(n.blocks()-1)) }

func (n *net) Build(input []int64) *nn.Builder { return n.build(input) }

// Hint says which layout the options describe, for a checkpoint whose
// keys or shapes do not fit it.
func (n *net) Hint(sd map[string]*sdk.Tensor) string {
	var convs, widths []string
	for i := 0; i <= n.blocks(); i++ {
		w := int64(1)
		if i < n.blocks() {
			w = n.width(i)
		}
		convs = append(convs, "main."+itoa(n.conv(i)))
		widths = append(widths, strconv.FormatInt(w, 10))
	}
	bn := "no BatchNorm"
	if n.batchNorm {
		bn = "a BatchNorm after each conv but the first and the last"
	}
	return fmt.Sprintf(" (%s with image_size=%d, ndf=%d, nc=%d has convs %s of %s channels and %s: was the checkpoint saved from a discriminator of another layout?)",
		n.arch, n.imageSize, n.ndf, n.nc, strings.Join(convs, ", "), strings.Join(widths, ", "), bn)
}
