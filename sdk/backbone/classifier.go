package backbone

import (
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Classifier is one architecture of an image classification family whose
// checkpoints determine only num_classes, as torchvision's classifiers'
// do: an input [N, 3, H, W] of any size (the pool before the head is
// global) and a Linear head.
type Classifier struct {
	Name string
	Doc  string // one line
	// Size is the default input's height and width (e.g. the eval crop
	// of the arch's pretrained weights).
	Size int64
	// Head is the module path of the head Linear (e.g. "fc"): its
	// weight's rows are a checkpoint's num_classes.
	Head string
	// DefaultLayer is the layer Extract returns when none is named;
	// empty means Head, the logits.
	DefaultLayer string
	// Build records the forward pass for numClasses outputs and an input
	// of the given shape (batch -1) into a new Builder.
	Build func(numClasses int64, input []int64) *nn.Builder
}

// ClassifierFamily is the Family of the given classifiers. Each arch has
// one option, num_classes (default 1000), which a checkpoint's head sets;
// a checkpoint that does not fit is refused naming the arch of the
// family it fits (Hint).
func ClassifierFamily(name, version string, cs []Classifier) Family {
	f := &Family{Name: name, Version: version}
	for _, c := range cs {
		f.Archs = append(f.Archs, Arch{
			Name:    c.Name,
			Doc:     c.Doc,
			Input:   sdk.InputSpec{Shape: []int64{-1, 3, c.Size, c.Size}, DType: sdk.Float32},
			Options: []Option{NumClasses(c.Head)},
			Infer:   InferClasses(c.Head + ".weight"),
			New: func(o Options) (Net, error) {
				return &classifier{Classifier: c, classes: o.Int("num_classes"), family: f}, nil
			},
		})
	}
	return *f
}

// classifier is a Classifier configured with its number of classes.
type classifier struct {
	Classifier
	classes int64
	family  *Family
}

func (n *classifier) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

func (n *classifier) DefaultInput() []int64 { return []int64{-1, 3, n.Size, n.Size} }

func (n *classifier) DefaultLayer() string {
	if n.Classifier.DefaultLayer != "" {
		return n.Classifier.DefaultLayer
	}
	return n.Head
}

func (n *classifier) Build(input []int64) *nn.Builder { return n.Classifier.Build(n.classes, input) }

// Hint names the archs of the family the checkpoint fits.
func (n *classifier) Hint(sd map[string]*sdk.Tensor) string { return n.family.FitsHint(n.Name, sd) }
