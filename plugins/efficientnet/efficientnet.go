package efficientnet

import (
	"fmt"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const inputName = "input"

// Family is the EfficientNet family on the shared backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "efficientnet", Version: Version}
	for _, a := range archs {
		f.Archs = append(f.Archs, backbone.Arch{
			Name:  a.name,
			Doc:   fmt.Sprintf("%s, as torchvision 0.14 defines it (default input %dx%d, its weights' eval crop)", a.doc, a.size, a.size),
			Input: sdk.InputSpec{Shape: []int64{-1, 3, a.size, a.size}, DType: sdk.Float32},
			Options: []backbone.Option{
				{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output features of classifier.1; read from the checkpoint"},
			},
			Infer: backbone.NumClasses("classifier.1.weight"),
			New: func(o backbone.Options) (backbone.Net, error) {
				return &net{arch: a, numClasses: o.Int("num_classes")}, nil
			},
		})
	}
	return f
}()

// New returns the EfficientNet backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// net is one configured EfficientNet: the arch and its classifier's
// output features.
type net struct {
	arch
	numClasses int64
}

// anyImage is any [N, 3, H, W]: every size gives a graph (stride-2 convs
// of padding (k-1)/2 never reach zero), and the pool before the
// classifier is global.
var anyImage = sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}

func (n *net) Input() sdk.InputSpec { return anyImage }

func (n *net) DefaultInput() []int64 { return []int64{-1, 3, n.size, n.size} }

// DefaultLayer is the classifier's output, the logits.
func (n *net) DefaultLayer() string { return "classifier" }

func (n *net) Build(input []int64) *nn.Builder { return n.build(n.numClasses, input) }

// Hint names the variant a checkpoint that does not fit was saved from.
func (n *net) Hint(sd map[string]*sdk.Tensor) string {
	return backbone.Hint(Family, n.name, sd)
}
