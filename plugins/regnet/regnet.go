package regnet

import (
	"fmt"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Family is the RegNet family on the shared backbone runtime: a
// classifier family, whose only option is num_classes (fc's output
// features, read from a checkpoint), taking [N, 3, H, W] of any size
// (224x224 by default), fc's logits its default layer.
var Family = func() backbone.Family {
	var cs []backbone.Classifier
	for _, a := range archs {
		kind := "RegNetX"
		if a.se {
			kind = "RegNetY (squeeze-excitation)"
		}
		cs = append(cs, backbone.Classifier{
			Name: a.name,
			Doc: fmt.Sprintf("%s %s, as torchvision 0.14 defines it (depth %d, w_0 %d, w_a %g, w_m %g, group width %d)",
				kind, a.name, a.depth, a.w0, a.wa, a.wm, a.groupWidth),
			Size:  224,
			Head:  "fc",
			Build: func(classes int64, input []int64) *nn.Builder { return a.build(classes, input) },
		})
	}
	return backbone.ClassifierFamily("regnet", Version, cs)
}()

// New returns the RegNet backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"
