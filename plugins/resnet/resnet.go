package resnet

import (
	"fmt"
	"slices"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const inputName = "input"

// defaultInput is every arch's default input, [N, 3, 224, 224].
var defaultInput = sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32}

// Family is the ResNet family on the shared backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "resnet", Version: Version}
	for _, a := range archs {
		f.Archs = append(f.Archs, backbone.Arch{
			Name:  a.name,
			Doc:   a.doc + ", as torchvision 0.14 defines it",
			Input: defaultInput,
			Options: []backbone.Option{
				{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output features of the fc layer"},
				{Name: "width", Kind: backbone.Int, Min: 1, Max: 4096, Default: "64", Usage: "base channel count (conv1 and layer1; stages double it); smaller than 64 gives a slim model with torchvision's state_dict names"},
			},
			Infer: infer,
			New: func(o backbone.Options) (backbone.Net, error) {
				n := &net{arch: a, numClasses: o.Int("num_classes")}
				n.base = o.Int("width")
				return n, nil
			},
		})
	}
	return f
}()

// New returns the ResNet backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// infer reads num_classes and width from a checkpoint's fc and conv1.
func infer(sd map[string]*sdk.Tensor) (map[string]string, error) {
	out := map[string]string{}
	if fc := sd["fc.weight"]; fc != nil && len(fc.Shape) == 2 {
		out["num_classes"] = fmt.Sprint(fc.Shape[0])
	}
	if c := sd["conv1.weight"]; c != nil && len(c.Shape) == 4 {
		out["width"] = fmt.Sprint(c.Shape[0])
	}
	return out, nil
}

// net is one configured ResNet.
type net struct {
	arch
	numClasses int64
}

func (n *net) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

func (n *net) DefaultInput() []int64 { return slices.Clone(defaultInput.Shape) }

func (n *net) DefaultLayer() string { return "fc" }

func (n *net) Build(input []int64) *nn.Builder { return n.build(n.numClasses, input) }

// Hint explains the usual cause of a checkpoint that does not fit:
// another ResNet variant.
func (n *net) Hint(sd map[string]*sdk.Tensor) string {
	if fc := sd["fc.weight"]; fc != nil && len(fc.Shape) == 2 && fc.Shape[1] != 8*n.baseWidth()*n.expansion() {
		for _, a := range archs {
			if a.expansion()*8*n.baseWidth() == fc.Shape[1] && a.name != n.name {
				return fmt.Sprintf(" (the checkpoint looks like another ResNet variant, fc takes %d features; load it with the arch it was saved from)", fc.Shape[1])
			}
		}
	}
	return " (the checkpoint looks like another architecture: load it with the arch it was saved from)"
}
