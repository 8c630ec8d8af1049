package mobilenet

import (
	"fmt"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

// arch is one torchvision variant.
type arch struct {
	name, doc string
	kind      string // the root module's class
	// head is the classifier's last Linear: its weight sets num_classes,
	// and its output is the default layer.
	head string
	// pooled is the layer of pooled features, [N, C]: the catalog's.
	pooled string
	build  func(b *nn.Builder, x nn.Value, numClasses int64)
	// v1Stem, set for the MNASNets whose version-1 stem differs from
	// version 2's (alpha != 1), builds the net with it (option v1_stem).
	v1Stem func(b *nn.Builder, x nn.Value, numClasses int64)
}

// archs lists the variants as torchvision 0.14 defines them.
var archs = []arch{
	{name: "mobilenet_v2", doc: "MobileNetV2", kind: "MobileNetV2", head: "classifier.1", pooled: "flatten", build: mobilenetV2},
	{name: "mobilenet_v3_large", doc: "MobileNetV3-Large", kind: "MobileNetV3", head: "classifier.3", pooled: "flatten", build: mobilenetV3(v3Large, v3LargeLast)},
	{name: "mobilenet_v3_small", doc: "MobileNetV3-Small", kind: "MobileNetV3", head: "classifier.3", pooled: "flatten", build: mobilenetV3(v3Small, v3SmallLast)},
	mnasnetArch("mnasnet0_5", "MNASNet-B1 0.5", 0.5),
	mnasnetArch("mnasnet0_75", "MNASNet-B1 0.75", 0.75),
	mnasnetArch("mnasnet1_0", "MNASNet-B1 1.0", 1.0),
	mnasnetArch("mnasnet1_3", "MNASNet-B1 1.3", 1.3),
	shufflenetArch("shufflenet_v2_x0_5", "ShuffleNetV2 x0.5", [5]int64{24, 48, 96, 192, 1024}),
	shufflenetArch("shufflenet_v2_x1_0", "ShuffleNetV2 x1.0", [5]int64{24, 116, 232, 464, 1024}),
	shufflenetArch("shufflenet_v2_x1_5", "ShuffleNetV2 x1.5", [5]int64{24, 176, 352, 704, 1024}),
	shufflenetArch("shufflenet_v2_x2_0", "ShuffleNetV2 x2.0", [5]int64{24, 244, 488, 976, 2048}),
}

func mnasnetArch(name, doc string, alpha float64) arch {
	a := arch{name: name, doc: doc, kind: "MNASNet", head: "classifier.1", pooled: "mean", build: mnasnet(alpha, false)}
	if alpha != 1 {
		a.v1Stem = mnasnet(alpha, true)
	}
	return a
}

func shufflenetArch(name, doc string, channels [5]int64) arch {
	return arch{name: name, doc: doc, kind: "ShuffleNetV2", head: "fc", pooled: "mean", build: shufflenet(channels)}
}

// v1StemOption is the option of the MNASNets whose version-1 stem
// differs from version 2's.
var v1StemOption = backbone.Option{Name: "v1_stem", Kind: backbone.Bool, Default: "false",
	Usage: "MNASNet's version-1 stem (32 and 16 channels whatever alpha), as in checkpoints saved before torchvision 0.5, which torchvision still loads; read from the checkpoint"}

// Family is the mobile-net family on the shared backbone runtime.
var Family = func() backbone.Family {
	f := backbone.Family{Name: "mobilenet", Version: Version}
	for _, a := range archs {
		opts := []backbone.Option{
			{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output features of " + a.head + "; read from the checkpoint"},
		}
		if a.v1Stem != nil {
			opts = append(opts, v1StemOption)
		}
		f.Archs = append(f.Archs, backbone.Arch{
			Name:    a.name,
			Doc:     a.doc + ", as torchvision 0.14 defines it",
			Input:   backbone.ImageInput,
			Options: opts,
			Infer:   a.infer,
			New: func(o backbone.Options) (backbone.Net, error) {
				return a.net(o.Int("num_classes"), a.v1Stem != nil && o.Bool("v1_stem")), nil
			},
		})
	}
	return f
}()

// New returns the mobile-net backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone.New(Family) }

// infer reads num_classes from the head's weight and, for MNASNet,
// whether the stem is version 1's (32 channels out of the first conv
// where version 2 has fewer or more).
func (a arch) infer(sd map[string]*sdk.Tensor) (map[string]string, error) {
	out := map[string]string{}
	if w := sd[a.head+".weight"]; w != nil && len(w.Shape) == 2 {
		out["num_classes"] = fmt.Sprint(w.Shape[0])
	}
	if a.v1Stem != nil {
		if w := sd["layers.0.weight"]; w != nil && len(w.Shape) == 4 {
			out["v1_stem"] = fmt.Sprint(w.Shape[0] == 32)
		}
	}
	return out, nil
}

// net returns the arch configured: num_classes, and for MNASNet of
// alpha != 1 the version-1 stem.
func (a arch) net(numClasses int64, v1Stem bool) *backbone.ImageModel {
	build := a.build
	if v1Stem {
		build = a.v1Stem
	}
	return &backbone.ImageModel{Arch: a.name, Kind: a.kind, Output: a.head, Forward: func(b *nn.Builder, x nn.Value) { build(b, x, numClasses) }}
}
