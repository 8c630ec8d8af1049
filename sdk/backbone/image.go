package backbone

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// InferClasses returns an Arch.Infer that reads num_classes from the
// rows of a classifier's 2-d weight at key (say "fc.weight"); a
// checkpoint without it sets nothing.
func InferClasses(key string) func(map[string]*sdk.Tensor) (map[string]string, error) {
	return func(sd map[string]*sdk.Tensor) (map[string]string, error) {
		out := map[string]string{}
		if w := sd[key]; w != nil && len(w.Shape) == 2 {
			out["num_classes"] = strconv.FormatInt(w.Shape[0], 10)
		}
		return out, nil
	}
}

// NumClasses is the num_classes option of an image classifier whose
// last Linear is layer: 1000 (ImageNet's) unless the user or the
// checkpoint (InferClasses(layer + ".weight")) sets it.
func NumClasses(layer string) Option {
	return Option{Name: "num_classes", Kind: Int, Min: 1, Default: "1000", Usage: "output features of " + layer + " (read from the checkpoint)"}
}

// CheckImage is an InputChecker's check of RGB images [N, 3, H, W]
// whose height and width are at least min; why says what needs that
// size. free allows a batch of -1 (Layers). Errors name arch and wrap
// sdk.ErrBadInput (a *sdk.ShapeError for another rank or channel count).
func CheckImage(arch string, shape []int64, free bool, min int64, why string) error {
	if len(shape) != 4 || shape[1] != 3 || !(shape[0] > 0 || free && shape[0] == -1) {
		return &sdk.ShapeError{What: "input", Want: []int64{-1, 3, -1, -1}, Got: shape, Hint: "give [N, 3, H, W] float32 images"}
	}
	if h, w := shape[2], shape[3]; h < min || w < min {
		return fmt.Errorf("%s: input %s: %w: height and width must be at least %d (%s); resize to %dx%d, say",
			arch, sdk.FormatShape(shape), sdk.ErrBadInput, min, why, max(h, min), max(w, min))
	}
	return nil
}

// Image is embedded by nets that take a batch of RGB images of any size,
// [N, 3, H, W] float32, to supply Input, DefaultInput and DefaultLayer.
type Image struct {
	H, W  int64  // the default input's height and width
	Layer string // the default layer
}

// Input is [-1, 3, -1, -1] float32, batch first.
func (i Image) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

// DefaultInput is [-1, 3, H, W].
func (i Image) DefaultInput() []int64 { return []int64{-1, 3, i.H, i.W} }

// DefaultLayer is i.Layer.
func (i Image) DefaultLayer() string { return i.Layer }

// ImageInput is the default input of an ImageModel, [N, 3, 224, 224]
// float32, as an Arch's Input documents it.
var ImageInput = sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32}

// ImageModel is a Net for the common case of an image model such as
// torchvision's classifiers: it takes [N, 3, H, W] float32 images of any
// size from MinSize up (CheckImage), 224x224 by default, as a graph
// input named "input" whose batch, height and width are free. Forward
// records the architecture's modules.
type ImageModel struct {
	Arch   string // the arch's name, for errors
	Kind   string // the root module's class, e.g. "MobileNetV3"
	Output string // the default layer, e.g. the classifier
	// MinSize is the smallest height and width the architecture takes
	// (torchvision's min_size); 0 means 1.
	MinSize int64
	Forward func(b *nn.Builder, x nn.Value)
}

// Input is [-1, 3, -1, -1] float32.
func (n *ImageModel) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

// DefaultInput is [-1, 3, 224, 224].
func (n *ImageModel) DefaultInput() []int64 { return slices.Clone(ImageInput.Shape) }

// DefaultLayer is n.Output.
func (n *ImageModel) DefaultLayer() string { return n.Output }

// CheckInput is CheckImage with n.MinSize.
func (n *ImageModel) CheckInput(shape []int64, free bool) error {
	return CheckImage(n.Arch, shape, free, max(n.MinSize, 1), "the smallest input "+n.Arch+" takes")
}

// Build records Forward for an input of the given shape.
func (n *ImageModel) Build(input []int64) *nn.Builder {
	b := nn.NewBuilder(n.Kind)
	n.Forward(b, b.Input("input", input, 0, 2, 3))
	return b
}
