package backbone

import (
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// ImageInput is the default input of an Image net, [N, 3, 224, 224]
// float32, as an Arch's Input documents it.
var ImageInput = sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32}

// Image is a Net for the common case of an image model such as
// torchvision's classifiers: it takes [N, 3, H, W] float32 images of any
// size (one too small for the architecture fails to build, saying so),
// 224x224 by default, as a graph input named "input" whose batch, height
// and width are free. Forward records the architecture's modules.
type Image struct {
	Kind    string // the root module's class, e.g. "MobileNetV3"
	Output  string // the default layer, e.g. the classifier
	Forward func(b *nn.Builder, x nn.Value)
}

// Input is [-1, 3, -1, -1] float32.
func (n *Image) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

// DefaultInput is [-1, 3, 224, 224].
func (n *Image) DefaultInput() []int64 { return []int64{-1, 3, 224, 224} }

// DefaultLayer is n.Output.
func (n *Image) DefaultLayer() string { return n.Output }

// Build records Forward for an input of the given shape.
func (n *Image) Build(input []int64) *nn.Builder {
	b := nn.NewBuilder(n.Kind)
	n.Forward(b, b.Input("input", input, 0, 2, 3))
	return b
}
