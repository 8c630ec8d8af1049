package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/gozoo/gozoo/sdk"
	"github.com/spf13/cobra"
)

// LayersOptions configures gozoo layers.
type LayersOptions struct {
	f          *Factory
	Model      modelFlags
	Source     modelSource
	InputSize  string // "H" or "H,W"
	InputShape string // the whole shape, "N,3,224,224"
	JSON       bool
}

// NewCmdLayers returns `gozoo layers ARCH`.
func NewCmdLayers(f *Factory, runF func(context.Context, *LayersOptions) error) *cobra.Command {
	opts := &LayersOptions{f: f}
	cmd := &cobra.Command{
		Use:   "layers (ARCH | --model NAME | --onnx FILE)",
		Short: "List a model's feature layers: name, kind, output shape, parameters",
		Long: `List a model's feature layers by PyTorch module name, with each layer's
module kind, output shape for the given input size (N is the batch) and
parameter count. The model is an architecture (ARCH), a catalog entry
(--model, as extract --model loads it) or any .onnx file (--onnx: its own
input, and per layer the parameters its nodes read). The arch's options
(for --opt) are listed first.`,
		Example: `  gozoo layers resnet50 --input-size 160,192
  gozoo layers --model resnet18_w8.gozoo_fmnist
  gozoo layers --onnx mynet.onnx`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := opts.Source.resolve(cmd.Context(), f, args, &opts.Model); err != nil {
				return err
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runLayers(cmd.Context(), opts)
		},
	}
	opts.Model.register(cmd, false)
	opts.Source.register(cmd)
	cmd.Flags().StringVar(&opts.InputSize, "input-size", "", "input height[,width] (default: the arch's)")
	cmd.Flags().StringVar(&opts.InputShape, "input-shape", "", "the whole input shape, N for the batch, e.g. N,3,160,192 or N,12 (default: the arch's or the .onnx file's)")
	cmd.Flags().BoolVar(&opts.JSON, "json", false, "print JSON")
	return cmd
}

// parseInputSize reads "H" or "H,W" into the arch's default input shape.
func parseInputSize(s string, def []int64) ([]int64, error) {
	if s == "" {
		return nil, nil
	}
	if len(def) < 3 {
		return nil, usageErrorf("--input-size: this arch's input %s has no spatial size", sdk.FormatShape(def))
	}
	parts := strings.Split(s, ",")
	if len(parts) > 2 {
		return nil, usageErrorf("--input-size %q: want H or H,W", s)
	}
	var hw []int64
	for _, p := range parts {
		v, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || v <= 0 {
			return nil, usageErrorf("--input-size %q: want positive integers H or H,W", s)
		}
		hw = append(hw, v)
	}
	if len(hw) == 1 {
		hw = append(hw, hw[0])
	}
	shape := append([]int64(nil), def...)
	shape[0] = 1
	copy(shape[len(shape)-2:], hw)
	return shape, nil
}

func runLayers(ctx context.Context, opts *LayersOptions) error {
	model, r, err := opts.f.load(ctx, &opts.Model)
	if err != nil {
		return err
	}
	defer model.Close()
	shape, err := opts.Source.inputShape(r.Arch.Input.Shape, opts.InputSize, opts.InputShape)
	if err != nil {
		return err
	}
	layers, err := model.Layers(ctx, &sdk.LayersRequest{InputShape: shape})
	if err != nil {
		return err
	}
	if opts.JSON {
		enc := json.NewEncoder(opts.f.Out)
		enc.SetIndent("", "  ")
		return enc.Encode(layers)
	}
	out := opts.f.Out
	in := r.Arch.Input.Shape
	if shape != nil {
		in = append([]int64{-1}, shape[1:]...)
	}
	if len(opts.Source.inputs) > 0 {
		// The file's own inputs, not the plugin's placeholder.
		fmt.Fprintf(out, "%s (plugin %s %s)\n", opts.Source.desc, r.Plugin, r.Desc.Version)
		for i, x := range opts.Source.inputs {
			line := "  input " + x.String()
			if i == 0 && shape != nil {
				line += ", listed for " + sdk.FormatShape(in)
			}
			fmt.Fprintln(out, line)
		}
	} else {
		if opts.Source.desc != "" {
			fmt.Fprintf(out, "model %s\n", opts.Source.desc)
		}
		fmt.Fprintf(out, "%s (plugin %s %s), input %s\n", r.Arch.Name, r.Plugin, r.Desc.Version, sdk.FormatShape(in))
		for _, o := range r.Arch.Options {
			fmt.Fprintf(out, "  --opt %-24s %s\n", o.Name+"="+loadedValue(model, o), o.Usage)
		}
	}
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tKIND\tOUTPUT\tPARAMS")
	var total int64
	for _, l := range layers {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", l.Name, l.Kind, sdk.FormatShape(l.Shape), l.Params)
	}
	params, err := model.Params(ctx)
	if err != nil {
		return err
	}
	for _, p := range params {
		total += p.NumElements()
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(out, "%d layers, %d parameters\n", len(layers), total)
	return nil
}

// loadedValue returns option o's value as the model was loaded, with
// where it came from when that is not the default ("64, from the
// checkpoint"); the arch's default for plugins that do not report it.
func loadedValue(m sdk.Model, o sdk.OptionSpec) string {
	d, ok := m.(sdk.OptionsDescriber)
	if !ok {
		return o.Default
	}
	for _, l := range d.LoadedOptions() {
		if l.Name != o.Name {
			continue
		}
		switch l.Source {
		case "checkpoint":
			return l.Value + " (from the checkpoint)"
		case "user":
			return l.Value + " (given)"
		}
		return l.Value
	}
	return o.Default
}
