package efficientnet

import (
	"fmt"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

// Family is the EfficientNet family on the shared backbone runtime: a
// classifier family, whose only option is num_classes (classifier.1's
// output features, read from a checkpoint), taking [N, 3, H, W] of any
// size (stride-2 convs of padding (k-1)/2 never reach zero and the pool
// is global), the logits its default layer.
var Family = func() backbone.Family {
	var cs []backbone.Classifier
	for _, a := range archs {
		cs = append(cs, backbone.Classifier{
			Name:         a.name,
			Doc:          fmt.Sprintf("%s, as torchvision 0.14 defines it (default input %dx%d, its weights' eval crop)", a.doc, a.size, a.size),
			Size:         a.size,
			Head:         "classifier.1",
			DefaultLayer: "classifier",
			Build:        func(classes int64, input []int64) *nn.Builder { return a.build(classes, input) },
		})
	}
	return backbone.ClassifierFamily("efficientnet", Version, cs)
}()

// New returns the EfficientNet backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }
