package classic

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

// arch is one torchvision variant.
type arch struct {
	name, doc, kind string
	// head is the module whose weight's first dimension is num_classes.
	head string
	// output is the default layer: the net's output as torch returns it.
	output string
	// minSize is torchvision's min_size, the smallest input the net takes.
	minSize int64
	build   func(b *nn.Builder, x nn.Value, numClasses int64)
	adapt   func(sd map[string]*sdk.Tensor) (map[string]*sdk.Tensor, error)
}

// archs lists the variants as torchvision 0.14 defines them.
var archs = []arch{
	{name: "alexnet", doc: "AlexNet (the one-weird-trick variant)", kind: "AlexNet", head: "classifier.6", output: "classifier.6", minSize: 63, build: alexnet},
	{name: "squeezenet1_0", doc: "SqueezeNet 1.0", kind: "SqueezeNet", head: "classifier.1", output: "flatten", minSize: 21, build: squeezeNet1_0.build},
	{name: "squeezenet1_1", doc: "SqueezeNet 1.1", kind: "SqueezeNet", head: "classifier.1", output: "flatten", minSize: 17, build: squeezeNet1_1.build},
	denseNetArch("densenet121", denseNet{32, 64, [4]int{6, 12, 24, 16}}),
	denseNetArch("densenet161", denseNet{48, 96, [4]int{6, 12, 36, 24}}),
	denseNetArch("densenet169", denseNet{32, 64, [4]int{6, 12, 32, 32}}),
	denseNetArch("densenet201", denseNet{32, 64, [4]int{6, 12, 48, 32}}),
}

func denseNetArch(name string, d denseNet) arch {
	return arch{name: name, doc: "DenseNet-" + strings.TrimPrefix(name, "densenet"), kind: "DenseNet", head: "classifier",
		output: "classifier", minSize: 29, build: d.build, adapt: adaptDenseNet}
}

// Family is the family of classic torchvision classifiers on the shared
// backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "classic", Version: Version}
	for _, a := range archs {
		f.Archs = append(f.Archs, backbone.Arch{
			Name:  a.name,
			Doc:   a.doc + ", as torchvision 0.14 defines it",
			Input: backbone.ImageInput,
			Options: []backbone.Option{
				{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output channels of " + a.head + "; read from the checkpoint"},
			},
			Adapt: a.adapt,
			Infer: a.infer,
			New: func(o backbone.Options) (backbone.Net, error) {
				return a.net(o.Int("num_classes")), nil
			},
		})
	}
	return f
}()

// New returns the classic backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// infer reads num_classes from the head's weight (a Linear's, or
// SqueezeNet's final 1x1 conv's).
func (a arch) infer(sd map[string]*sdk.Tensor) (map[string]string, error) {
	if w := sd[a.head+".weight"]; w != nil && len(w.Shape) >= 2 {
		return map[string]string{"num_classes": fmt.Sprint(w.Shape[0])}, nil
	}
	return nil, nil
}

// net returns the arch configured for numClasses classes.
func (a arch) net(numClasses int64) *backbone.ImageModel {
	return &backbone.ImageModel{Arch: a.name, Kind: a.kind, Output: a.output, MinSize: a.minSize,
		Forward: func(b *nn.Builder, x nn.Value) { a.build(b, x, numClasses) }}
}

// flatten adds torch.flatten(x, 1) as a layer named "flatten", the name
// torch.fx gives it.
func flatten(b *nn.Builder, x nn.Value) nn.Value {
	sh := x.Shape()
	n := int64(1)
	for _, d := range sh[1:] {
		n *= d
	}
	return b.Node("flatten", "flatten", "Flatten", []nn.Value{x}, []int64{sh[0], n}, nn.Int("axis", 1))
}

// avgPool adds module name as torch.nn.AdaptiveAvgPool2d((1, 1)), a
// ReduceMean, as close to torch's mean as ONNX Runtime gets (its
// GlobalAveragePool sums in one float32 accumulator).
func avgPool(b *nn.Builder, name string, x nn.Value) nn.Value {
	return b.ReduceMean(name, "AdaptiveAvgPool2d", x, true, 2, 3)
}

var itoa = strconv.Itoa
