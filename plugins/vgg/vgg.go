package vgg

import (
	"fmt"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const inputName = "input"

// defaultInput is every arch's default input, [N, 3, 224, 224].
var defaultInput = sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32}

// Family is the VGG family on the shared backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{
		Name:    "vgg",
		Version: Version,
		// VGG's activations are large: without ONNX Runtime's arena, which
		// keeps past runs' buffers, vgg16's avgpool features at batch 8
		// peak about 350 MB lower, at the same speed. A session computes
		// exactly the requested layers, so it needs no copy of the model
		// for subsets.
		SessionOptions: []ort.Option{ort.WithMemoryArena(false), ort.WithOutputSubsets(false)},
	}
	for _, a := range archs {
		f.Archs = append(f.Archs, backbone.Arch{
			Name:    a.name,
			Doc:     a.doc + ", as torchvision 0.14 defines it",
			Input:   defaultInput,
			Options: []backbone.Option{backbone.NumClasses("classifier.6")},
			Infer:   backbone.InferClasses("classifier.6.weight"),
			New: func(o backbone.Options) (backbone.Net, error) {
				return &net{Image: backbone.Image{H: 224, W: 224, Layer: "classifier"}, arch: a, numClasses: o.Int("num_classes")}, nil
			},
		})
	}
	return f
}()

// New returns the VGG backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// net is one configured VGG.
type net struct {
	backbone.Image
	arch
	numClasses int64
}

func (n *net) Build(input []int64) *nn.Builder { return n.build(n.numClasses, input) }

// Hint explains the usual cause of a checkpoint that does not fit:
// another VGG depth, or BatchNorm where the arch has none (or none where
// it has).
func (n *net) Hint(sd map[string]*sdk.Tensor) string {
	convs, bn := 0, false
	for k, t := range sd {
		if strings.HasPrefix(k, "features.") && strings.HasSuffix(k, ".weight") {
			switch len(t.Shape) {
			case 4:
				convs++
			case 1:
				bn = true
			}
		}
	}
	if convs > 0 && (convs != n.convs() || bn != n.bn) {
		for _, a := range archs {
			if a.convs() == convs && a.bn == bn {
				return fmt.Sprintf(" (the checkpoint looks like %s: load it with that arch)", a.name)
			}
		}
	}
	return " (the checkpoint looks like another architecture: load it with the arch it was saved from)"
}
