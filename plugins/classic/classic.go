package classic

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const inputName = "input"

// defaultInput is every arch's default input, [N, 3, 224, 224].
var defaultInput = sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32}

// arch is one torchvision variant.
type arch struct {
	name, doc, kind string
	// head is the module whose weight's first dimension is num_classes.
	head string
	// output is the default layer: the net's output as torch returns it.
	output string
	build  func(b *nn.Builder, x nn.Value, numClasses int64)
	adapt  func(sd map[string]*sdk.Tensor) (map[string]*sdk.Tensor, error)
}

// archs lists the variants as torchvision 0.14 defines them.
var archs = []arch{
	{name: "alexnet", doc: "AlexNet (the one-weird-trick variant)", kind: "AlexNet", head: "classifier.6", output: "classifier.6", build: alexnet},
	{name: "squeezenet1_0", doc: "SqueezeNet 1.0", kind: "SqueezeNet", head: "classifier.1", output: "flatten", build: squeezeNet1_0.build},
	{name: "squeezenet1_1", doc: "SqueezeNet 1.1", kind: "SqueezeNet", head: "classifier.1", output: "flatten", build: squeezeNet1_1.build},
	denseNetArch("densenet121", denseNet{32, 64, [4]int{6, 12, 24, 16}}),
	denseNetArch("densenet161", denseNet{48, 96, [4]int{6, 12, 36, 24}}),
	denseNetArch("densenet169", denseNet{32, 64, [4]int{6, 12, 32, 32}}),
	denseNetArch("densenet201", denseNet{32, 64, [4]int{6, 12, 48, 32}}),
}

func denseNetArch(name string, d denseNet) arch {
	return arch{name: name, doc: "DenseNet-" + strings.TrimPrefix(name, "densenet"), kind: "DenseNet", head: "classifier",
		output: "classifier", build: d.build, adapt: adaptDenseNet}
}

// Family is the family of classic torchvision classifiers on the shared
// backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "classic", Version: Version}
	for _, a := range archs {
		f.Archs = append(f.Archs, backbone.Arch{
			Name:  a.name,
			Doc:   a.doc + ", as torchvision 0.14 defines it",
			Input: defaultInput,
			Options: []backbone.Option{
				{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output channels of " + a.head + "; read from the checkpoint"},
			},
			Adapt: a.adapt,
			Infer: a.infer,
			New: func(o backbone.Options) (backbone.Net, error) {
				return &net{arch: a, numClasses: o.Int("num_classes")}, nil
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

// net is one configured arch.
type net struct {
	arch
	numClasses int64
}

func (n *net) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

func (n *net) DefaultInput() []int64 { return slices.Clone(defaultInput.Shape) }

func (n *net) DefaultLayer() string { return n.output }

func (n *net) Build(input []int64) *nn.Builder {
	b := nn.NewBuilder(n.kind)
	n.build(b, b.Input(inputName, input, 0, 2, 3), n.numClasses)
	return b
}

// Hint names the arch of this family whose state_dict a checkpoint is,
// when that is another one than n's.
func (n *net) Hint(sd map[string]*sdk.Tensor) string {
	if h := Family.FitsHint(n.name, sd); h != "" {
		return h
	}
	return " (the checkpoint is none of torchvision's alexnet, squeezenet or densenet: load it with the arch it was saved from)"
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
