package convnext

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const inputName = "input"

// defaultInput is every arch's default input, [N, 3, 224, 224].
var defaultInput = sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32}

// minSize is torchvision's min_size for ConvNeXt weights: the smallest
// image whose last stage is at least 1x1.
const minSize = 32

// Family is the ConvNeXt family on the shared backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "convnext", Version: Version}
	for _, a := range archs {
		f.Archs = append(f.Archs, backbone.Arch{
			Name:  a.name,
			Doc:   a.doc + ", as torchvision 0.14 defines it; any image of at least 32x32",
			Input: defaultInput,
			Options: []backbone.Option{
				{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output features of classifier.2 (read from the checkpoint)"},
			},
			Infer: backbone.InferClasses("classifier.2.weight"),
			New: func(o backbone.Options) (backbone.Net, error) {
				return &net{arch: a, numClasses: o.Int("num_classes")}, nil
			},
		})
	}
	return f
}()

// New returns the ConvNeXt backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// net is one configured ConvNeXt.
type net struct {
	arch
	numClasses int64
}

func (n *net) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

func (n *net) DefaultInput() []int64 { return slices.Clone(defaultInput.Shape) }

func (n *net) DefaultLayer() string { return "classifier.2" }

func (n *net) Build(input []int64) *nn.Builder { return n.build(n.numClasses, input) }

// CheckInput takes [N, 3, H, W] images of at least 32x32.
func (n *net) CheckInput(shape []int64, free bool) error {
	return backbone.CheckImage(n.name, shape, free, minSize, "the last stage downsamples 32 times")
}

// Hint names the torchvision variant a checkpoint that does not fit
// looks like, by its stem width and the depth of its third stage.
func (n *net) Hint(sd map[string]*sdk.Tensor) string {
	stem := sd["features.0.0.weight"]
	if stem == nil || len(stem.Shape) != 4 {
		return " (the checkpoint is not a torchvision ConvNeXt's: load it with the arch it was saved from)"
	}
	depth := 0
	for sd["features.5."+strconv.Itoa(depth)+".layer_scale"] != nil {
		depth++
	}
	for _, a := range archs {
		if a.name != n.name && a.dims[0] == stem.Shape[0] && a.depths[2] == depth {
			return " (the checkpoint looks like " + a.name + ": load it with --arch " + a.name + ")"
		}
	}
	return fmt.Sprintf(" (the checkpoint has %d stem channels and %d blocks in its third stage, no torchvision ConvNeXt)", stem.Shape[0], depth)
}
