package transformer

import (
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

// Family is the transformer family on the shared backbone runtime: the
// ViT archs (vit_b_16, vit_b_32, vit_l_16, vit_l_32, vit) and
// text_encoder.
var Family = backbone.Family{
	Name:    "transformer",
	Version: Version,
	Archs:   append(vitFamily(), textArch),
}

// New returns the transformer backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// shapeOf returns the shape of checkpoint entry k, or nil.
func shapeOf(sd map[string]*sdk.Tensor, k string) []int64 {
	if t := sd[k]; t != nil {
		return t.Shape
	}
	return nil
}
