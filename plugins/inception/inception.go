package inception

import (
	"fmt"
	"slices"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const inputName = "input"

// Family is the Inception family on the shared backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "inception", Version: Version}
	for _, a := range archs {
		f.Archs = append(f.Archs, backbone.Arch{
			Name:  a.name,
			Doc:   a.doc + ", as torchvision 0.14 defines it",
			Input: sdk.InputSpec{Shape: a.input, DType: sdk.Float32},
			Options: []backbone.Option{
				{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output features of fc (and of the aux heads)"},
				{Name: "aux_logits", Kind: backbone.Bool, Default: "true", Usage: "build the aux heads (" + strings.Join(a.auxHeads, ", ") +
					"); false accepts and ignores their weights, as torchvision does; a checkpoint without them sets false"},
				{Name: "transform_input", Kind: backbone.Bool, Default: "false", Usage: "re-normalise ImageNet-normalised input as the pretrained torchvision weights expect (true for those)"},
			},
			Infer: a.infer,
			New: func(o backbone.Options) (backbone.Net, error) {
				return &net{Image: backbone.Image{H: a.input[2], W: a.input[3], Layer: "fc"}, arch: a, options: options{
					numClasses:     o.Int("num_classes"),
					auxLogits:      o.Bool("aux_logits"),
					transformInput: o.Bool("transform_input"),
				}}, nil
			},
		})
	}
	return f
}()

// New returns the Inception backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// infer reads num_classes from a checkpoint's fc, and aux_logits=false
// from a checkpoint without aux heads. A checkpoint with them leaves
// aux_logits to the user: false ignores them, as torchvision does. A
// checkpoint of the other network sets nothing; the weight match and
// Hint explain it.
func (a arch) infer(sd map[string]*sdk.Tensor) (map[string]string, error) {
	if sd[a.stem] == nil {
		return map[string]string{}, nil
	}
	out, err := backbone.InferClasses("fc.weight")(sd)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(a.auxHeads, func(h string) bool { return hasModule(sd, h) }) {
		out["aux_logits"] = "false"
	}
	return out, nil
}

// hasModule reports whether sd holds a key of module name.
func hasModule(sd map[string]*sdk.Tensor, name string) bool {
	for k := range sd {
		if strings.HasPrefix(k, name+".") {
			return true
		}
	}
	return false
}

// net is one configured network.
type net struct {
	backbone.Image
	arch
	options
}

func (n *net) Build(input []int64) *nn.Builder { return n.build(n.options, input) }

// Ignores reports the aux heads' keys when the net has no aux heads:
// torchvision's builders load them and then drop the heads.
func (n *net) Ignores(key string) bool {
	if n.auxLogits {
		return false
	}
	return slices.ContainsFunc(n.auxHeads, func(h string) bool { return strings.HasPrefix(key, h+".") })
}

// Hint explains the usual causes of a checkpoint that does not fit: the
// other network, or aux heads missing from it.
func (n *net) Hint(sd map[string]*sdk.Tensor) string {
	for _, a := range archs {
		if a.name != n.name && sd[a.stem] != nil {
			return fmt.Sprintf(" (the checkpoint looks like %s: load it with that arch)", a.name)
		}
	}
	if n.auxLogits {
		for _, h := range n.auxHeads {
			if !hasModule(sd, h) {
				return fmt.Sprintf(" (the checkpoint has no aux head %s: set option aux_logits=false to load it without aux heads)", h)
			}
		}
	}
	return " (the checkpoint looks like another architecture: load it with the arch it was saved from)"
}
