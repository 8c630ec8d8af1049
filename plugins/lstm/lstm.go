package lstm

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

// Family is the recurrent family (archs lstm and gru) on the shared
// backbone runtime.
var Family = backbone.Family{Name: "lstm", Version: Version, Archs: []backbone.Arch{
	family("lstm", "torch.nn.LSTM encoder (proj_size too) with optional embedding and fc"),
	family("gru", "torch.nn.GRU encoder with optional embedding and fc"),
}}

// New returns the recurrent backbone (archs lstm and gru). It is safe for
// concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// fcInputs are the values of the fc_input option.
var fcInputs = []string{"last", "mean", "h_n", "h_n_last"}

// family returns arch lstm or gru with its options and checkpoint hooks.
func family(arch, doc string) backbone.Arch {
	opts := []backbone.Option{
		{Name: "input_size", Kind: backbone.Int, Min: 1, Default: "8", Usage: "features per step (read from the checkpoint when given)"},
		{Name: "hidden_size", Kind: backbone.Int, Min: 1, Default: "16", Usage: "hidden state size (from the checkpoint)"},
		{Name: "num_layers", Kind: backbone.Int, Min: 1, Default: "1", Usage: "stacked layers (from the checkpoint)"},
		{Name: "bidirectional", Kind: backbone.Bool, Default: "false", Usage: "two directions (from the checkpoint)"},
		{Name: "batch_first", Kind: backbone.Bool, Default: "true", Usage: "input [N,T,F] (true) or torch's default [T,N,F] (false); not in checkpoints"},
		{Name: "bias", Kind: backbone.Bool, Default: "true", Usage: "bias_ih/bias_hh present (from the checkpoint)"},
		{Name: "num_embeddings", Kind: backbone.Int, Default: "0", Usage: "vocabulary of an nn.Embedding front taking int64 token ids; 0: none (from the checkpoint)"},
		{Name: "embedding_dim", Kind: backbone.Int, Min: 1, Usage: "embedding size; default and only value: input_size (from the checkpoint)"},
		{Name: "num_classes", Kind: backbone.Int, Default: "0", Usage: "outputs of an nn.Linear head fc; 0: none (from the checkpoint)"},
		{Name: "fc_bias", Kind: backbone.Bool, Default: "true", Usage: "fc has a bias (from the checkpoint)"},
		{Name: "fc_input", Kind: backbone.String, Choices: fcInputs, Default: "last",
			Usage: "what fc reads: last (output at the last valid step), mean (over valid steps), h_n (the last layer's final states, directions concatenated) or h_n_last (h_n[-1]: the last layer's last direction)"},
	}
	if arch == "lstm" {
		opts = append(opts, backbone.Option{Name: "proj_size", Kind: backbone.Int, Default: "0", Usage: "LSTM projection size, below hidden_size; 0: none (from the checkpoint)"})
	}
	return backbone.Arch{
		Name:    arch,
		Doc:     doc,
		Input:   sdk.InputSpec{Shape: []int64{-1, defaultSteps, 8}, DType: sdk.Float32},
		Options: opts,
		New:     func(o backbone.Options) (backbone.Net, error) { return newNet(arch, o) },
		Adapt:   func(sd map[string]*sdk.Tensor) (map[string]*sdk.Tensor, error) { return adapt(arch, sd) },
		Infer:   func(sd map[string]*sdk.Tensor) (map[string]string, error) { return infer(arch, sd) },
	}
}

// other names the other arch of the family.
var other = map[string]string{"lstm": "gru", "gru": "lstm"}

// gates is the number of gate blocks in a layer's weights.
func gates(arch string) int64 {
	if arch == "gru" {
		return 3
	}
	return 4
}

// adapt takes a bare nn.LSTM/nn.GRU state_dict (weight_ih_l0, ...) under
// the module's name (lstm.weight_ih_l0) and refuses the other arch's
// checkpoint, by its keys or by its gate count.
func adapt(arch string, sd map[string]*sdk.Tensor) (map[string]*sdk.Tensor, error) {
	o := other[arch]
	out := make(map[string]*sdk.Tensor, len(sd))
	for _, name := range slices.Sorted(maps.Keys(sd)) {
		t := sd[name]
		switch {
		case strings.HasPrefix(name, o+"."):
			return nil, fmt.Errorf("the checkpoint holds a %s (key %s): %w: load it with --arch %s", strings.ToUpper(o), name, sdk.ErrWeights, o)
		case strings.HasPrefix(name, "weight_"), strings.HasPrefix(name, "bias_"):
			out[arch+"."+name] = t
		default:
			out[name] = t // the strict match reports what does not belong
		}
	}
	wih, whh := out[arch+".weight_ih_l0"], out[arch+".weight_hh_l0"]
	if wih == nil || whh == nil || len(wih.Shape) != 2 || len(whh.Shape) != 2 {
		return out, nil // infer says what is missing
	}
	g, proj := gates(arch), out[arch+".weight_hr_l0"] != nil
	if wih.Shape[0]%g != 0 || (!proj && wih.Shape[0] != g*whh.Shape[1]) {
		return nil, fmt.Errorf("%s.weight_ih_l0 %s and weight_hh_l0 %s do not fit %d gates: %w: the checkpoint looks like an nn.%s; load it with --arch %s",
			arch, sdk.FormatShape(wih.Shape), sdk.FormatShape(whh.Shape), g, sdk.ErrWeights, strings.ToUpper(o), o)
	}
	return out, nil
}

// infer reads the sizes an adapted checkpoint's shapes give: the
// recurrent layer's, the embedding's and fc's (none of either is 0).
func infer(arch string, sd map[string]*sdk.Tensor) (map[string]string, error) {
	shape := func(name string) []int64 {
		if t := sd[name]; t != nil {
			return t.Shape
		}
		return nil
	}
	wih, whh := shape(arch+".weight_ih_l0"), shape(arch+".weight_hh_l0")
	if len(wih) != 2 || len(whh) != 2 {
		keys := slices.Sorted(maps.Keys(sd))
		if len(keys) > 6 {
			keys = append(keys[:6], "...")
		}
		return nil, fmt.Errorf("no 2-d %s.weight_ih_l0 and weight_hh_l0 (keys: %s): %w: save an nn.%s's state_dict, or a module's that holds it as %q",
			arch, strings.Join(keys, ", "), sdk.ErrWeights, strings.ToUpper(arch), arch)
	}
	layers := 0
	for shape(arch+".weight_ih_l"+strconv.Itoa(layers)) != nil {
		layers++
	}
	out := map[string]string{
		"input_size":     fmt.Sprint(wih[1]),
		"hidden_size":    fmt.Sprint(wih[0] / gates(arch)),
		"num_layers":     fmt.Sprint(layers),
		"bidirectional":  fmt.Sprint(shape(arch+".weight_ih_l0_reverse") != nil),
		"bias":           fmt.Sprint(shape(arch+".bias_ih_l0") != nil),
		"num_embeddings": "0",
		"num_classes":    "0",
	}
	if arch == "lstm" {
		out["proj_size"] = "0"
		if whr := shape(arch + ".weight_hr_l0"); len(whr) == 2 {
			out["proj_size"] = fmt.Sprint(whr[0])
		}
	}
	if e := shape("embedding.weight"); len(e) == 2 {
		if e[1] != wih[1] {
			return nil, fmt.Errorf("embedding.weight %s gives %d features but %s.weight_ih_l0 %s takes %d: %w: the embedding must feed the %s",
				sdk.FormatShape(e), e[1], arch, sdk.FormatShape(wih), wih[1], sdk.ErrWeights, arch)
		}
		out["num_embeddings"], out["embedding_dim"] = fmt.Sprint(e[0]), fmt.Sprint(e[1])
	}
	if f := shape("fc.weight"); len(f) == 2 {
		out["num_classes"] = fmt.Sprint(f[0])
		out["fc_bias"] = fmt.Sprint(shape("fc.bias") != nil)
	}
	return out, nil
}
