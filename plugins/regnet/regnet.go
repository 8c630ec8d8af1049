package regnet

import (
	"fmt"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const inputName = "input"

// Family is the RegNet family on the shared backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "regnet", Version: Version}
	for _, a := range archs {
		kind := "RegNetX"
		if a.se {
			kind = "RegNetY (squeeze-excitation)"
		}
		f.Archs = append(f.Archs, backbone.Arch{
			Name: a.name,
			Doc: fmt.Sprintf("%s %s, as torchvision 0.14 defines it (depth %d, w_0 %d, w_a %g, w_m %g, group width %d)",
				kind, a.name, a.depth, a.w0, a.wa, a.wm, a.groupWidth),
			Input: sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32},
			Options: []backbone.Option{
				{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output features of fc; read from the checkpoint"},
			},
			Infer: backbone.NumClasses("fc.weight"),
			New: func(o backbone.Options) (backbone.Net, error) {
				return &net{arch: a, classes: o.Int("num_classes")}, nil
			},
		})
	}
	return f
}()

// New returns the RegNet backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// net is one configured RegNet.
type net struct {
	arch
	classes int64
}

// Input is any [N, 3, H, W]; the pool before fc is global.
func (n *net) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

func (n *net) DefaultInput() []int64 { return []int64{-1, 3, 224, 224} }

// DefaultLayer is fc, the logits.
func (n *net) DefaultLayer() string { return "fc" }

func (n *net) Build(input []int64) *nn.Builder { return n.build(n.classes, input) }

// Hint names the variant a checkpoint that does not fit was saved from.
func (n *net) Hint(sd map[string]*sdk.Tensor) string { return backbone.Hint(Family, n.name, sd) }
