// Command extract shows gozoo's Go API end to end, using only the public
// packages sdk and sdk/host: it starts the resnet plugin, lists a model's
// layers, freezes everything but layer4, and extracts two layers from one
// forward pass.
//
//	make build && go run ./examples/extract -plugins bin/plugins
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

func main() {
	plugins := flag.String("plugins", "bin/plugins", "folder holding gozoo-backbone-resnet")
	arch := flag.String("arch", "resnet18", "ResNet architecture")
	flag.Parse()
	if err := run(context.Background(), os.Stdout, *plugins, *arch); err != nil {
		fmt.Fprintln(os.Stderr, "extract:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, w io.Writer, pluginDir, arch string) error {
	h, err := host.New(host.WithPluginPath(pluginDir))
	if err != nil {
		return err
	}
	defer h.Close() // stops the plugin process

	bb, err := h.Backbone(ctx, "resnet")
	if err != nil {
		return err
	}
	// No WeightsPath: a seeded random init. Pass a torchvision .pth or
	// .safetensors state_dict to serve trained weights.
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: arch, Seed: 1})
	if err != nil {
		return err
	}
	defer m.Close()

	layers, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: []int64{1, 3, 224, 224}})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "%s has %d feature layers; the last three:\n", arch, len(layers))
	for _, l := range layers[len(layers)-3:] {
		fmt.Fprintf(w, "  %-8s %-18s %s\n", l.Name, l.Kind, sdk.FormatShape(l.Shape))
	}

	// Partial fine-tuning setup: freeze all, unfreeze layer4.
	if _, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"*"}, Trainable: false}); err != nil {
		return err
	}
	res, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"layer4.*"}, Trainable: true})
	if err != nil {
		return err
	}
	params, err := m.Params(ctx)
	if err != nil {
		return err
	}
	var trainable, total int64
	for _, p := range params {
		total += p.NumElements()
		if p.Trainable {
			trainable += p.NumElements()
		}
	}
	fmt.Fprintf(w, "unfroze %d tensors matching layer4.*: %d of %d parameters trainable\n", len(res.Matched), trainable, total)

	// Two images, two layers, one forward pass.
	x := sdk.Zeros(2, 3, 224, 224)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%255)/255 - 0.5
	}
	out, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"layer3", "avgpool"}, Input: x})
	if err != nil {
		return err
	}
	for _, name := range []string{"layer3", "avgpool"} {
		fmt.Fprintf(w, "%s: %s\n", name, sdk.FormatShape(out.Outputs[name].Shape))
	}
	return nil
}
