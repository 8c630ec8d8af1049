package main

import (
	"fmt"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// family is tinycnn on gozoo's backbone runtime, which does the rest:
// options, checkpoints, sessions, layer lists, Extract, Params.
var family = backbone.Family{Name: "tinycnn", Version: "0.1.0", Archs: []backbone.Arch{{
	Name:  "tinycnn",
	Doc:   "conv-bn-relu-maxpool blocks, global average pool, linear classifier (tinycnn.py)",
	Input: sdk.InputSpec{Shape: []int64{-1, 3, 32, 32}, DType: sdk.Float32},
	Options: []backbone.Option{
		{Name: "width", Kind: backbone.Int, Min: 1, Max: 1024, Default: "16", Usage: "channels of the first block; each next block doubles them"},
		{Name: "depth", Kind: backbone.Int, Min: 1, Max: 8, Default: "3", Usage: "number of blocks, each halving the height and width"},
		{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "10", Usage: "output features of fc"},
	},
	Infer: infer,
	New: func(o backbone.Options) (backbone.Net, error) {
		return &net{width: o.Int("width"), depth: o.Int("depth"), classes: o.Int("num_classes")}, nil
	},
}}}

// infer reads the options a checkpoint's shapes set; the runtime refuses
// a user's option that contradicts them.
func infer(sd map[string]*sdk.Tensor) (map[string]string, error) {
	out := map[string]string{}
	depth := 0
	for sd[fmt.Sprintf("features.%d.conv.weight", depth)] != nil {
		depth++
	}
	if depth > 0 {
		out["depth"] = fmt.Sprint(depth)
		if w := sd["features.0.conv.weight"]; len(w.Shape) == 4 {
			out["width"] = fmt.Sprint(w.Shape[0])
		}
	}
	if fc := sd["fc.weight"]; fc != nil && len(fc.Shape) == 2 {
		out["num_classes"] = fmt.Sprint(fc.Shape[0])
	}
	return out, nil
}

// net is TinyCNN configured by its options.
type net struct{ width, depth, classes int64 }

func (n *net) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

func (n *net) DefaultInput() []int64 { return []int64{-1, 3, 32, 32} }

func (n *net) DefaultLayer() string { return "fc" }

// Build records TinyCNN.forward for an input of the given shape.
func (n *net) Build(input []int64) *nn.Builder {
	b := nn.NewBuilder("TinyCNN")
	x := b.Input("input", input, 0, 2, 3)
	c := int64(3)
	x = b.Module("features", "Sequential", func() nn.Value {
		for i := range n.depth {
			out := n.width << i
			x = b.Module(fmt.Sprint(i), "Block", func() nn.Value {
				x = b.Conv2d("conv", x, nn.Conv2d{In: c, Out: out, Kernel: nn.P(3), Padding: nn.P(1)})
				x = b.BatchNorm2d("bn", x, out)
				x = b.ReLU("relu", x)
				return b.MaxPool2d("pool", x, nn.Pool{Kernel: nn.P(2)})
			})
			c = out
		}
		return x
	})
	x = b.AdaptiveAvgPool2d("avgpool", x, nn.P(1))
	b.Linear("fc", b.Flatten("", x), c, n.classes, true)
	return b
}
