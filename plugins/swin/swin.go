package swin

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

// Family is the Swin Transformer family on the shared backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "swin", Version: Version}
	for _, a := range archs {
		f.Archs = append(f.Archs, backbone.Arch{
			Name:  a.name,
			Doc:   a.doc + ", as torchvision 0.14 defines it; any image of at least 4x4",
			Input: defaultInput,
			Options: []backbone.Option{
				{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output features of head (read from the checkpoint)"},
			},
			Infer: backbone.InferClasses("head.weight"),
			New: func(o backbone.Options) (backbone.Net, error) {
				return &net{arch: a, numClasses: o.Int("num_classes")}, nil
			},
		})
	}
	return f
}()

// New returns the Swin Transformer backbone. It is safe for concurrent
// use.
func New() sdk.Backbone { return backbone.New(Family) }

// net is one configured Swin Transformer.
type net struct {
	arch
	numClasses int64
}

func (n *net) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

func (n *net) DefaultInput() []int64 { return slices.Clone(defaultInput.Shape) }

func (n *net) DefaultLayer() string { return "head" }

func (n *net) Build(input []int64) *nn.Builder { return n.build(n.numClasses, input) }

// CheckInput takes [N, 3, H, W] images of at least one patch.
func (n *net) CheckInput(shape []int64, free bool) error {
	return backbone.CheckImage(n.name, shape, free, patch, "the patch size")
}

// CheckWeights checks that every block's relative_position_index is
// torchvision's for a 7x7 window: the graph holds that index itself.
func (n *net) CheckWeights(sd map[string]*sdk.Tensor) error {
	want := nn.RelativePositionIndex(window, window)
	for i, d := range n.depths {
		for j := range d {
			k := "features." + strconv.Itoa(2*i+1) + "." + strconv.Itoa(j) + ".attn.relative_position_index"
			t := sd[k]
			if t == nil {
				continue // the strict match names it
			}
			if t.DType() != sdk.Int64 || !slices.Equal(t.Int64, want) {
				return fmt.Errorf("%s is not torchvision's index for a %dx%d window: %w: save the state_dict of a torchvision SwinTransformer (v1, window_size [7, 7])", k, window, window, sdk.ErrWeights)
			}
		}
	}
	return nil
}

// Hint names the torchvision variant a checkpoint that does not fit
// looks like, by its embedding width and the depth of its third stage.
func (n *net) Hint(sd map[string]*sdk.Tensor) string {
	stem := sd["features.0.0.weight"]
	if stem == nil || len(stem.Shape) != 4 {
		return " (the checkpoint is not a torchvision SwinTransformer's: load it with the arch it was saved from)"
	}
	depth := 0
	for sd["features.5."+strconv.Itoa(depth)+".norm1.weight"] != nil {
		depth++
	}
	for _, a := range archs {
		if a.name != n.name && a.embed == stem.Shape[0] && a.depths[2] == depth {
			return " (the checkpoint looks like " + a.name + ": load it with --arch " + a.name + ")"
		}
	}
	return fmt.Sprintf(" (the checkpoint has embed_dim %d and %d blocks in its third stage, no torchvision Swin v1)", stem.Shape[0], depth)
}
