package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/spf13/cobra"
)

// modelSource holds the ways besides ARCH that layers and params name a
// model: a catalog entry (--model) or an ONNX file (--onnx).
type modelSource struct {
	Model    string
	Catalogs []string
	Offline  bool
	ONNX     string

	// Filled by resolve: what --model or --onnx chose, to print.
	desc   string
	inputs []bridge.ONNXInput // the --onnx file's own inputs
}

func (s *modelSource) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&s.Model, "model", "", "catalog model instead of ARCH, e.g. resnet50.tv_in1k (gozoo zoo list): sets plugin, arch, options and weights as extract --model does")
	fl.StringSliceVar(&s.Catalogs, "catalog", nil, "extra catalog YAML files, merged after the embedded one and ~/.config/gozoo/zoo.yaml")
	fl.BoolVar(&s.Offline, "offline", os.Getenv("GOZOO_OFFLINE") == "1", "with --model, use only cached weights; never download (default $GOZOO_OFFLINE=1)")
	fl.StringVar(&s.ONNX, "onnx", "", "any .onnx file instead of ARCH (plugin onnx): its own input and layers by PyTorch module path")
}

// resolve fills m from ARCH (args), --model or --onnx, exactly one of
// which must be given.
func (s *modelSource) resolve(ctx context.Context, f *Factory, args []string, m *modelFlags) error {
	n := 0
	for _, given := range []bool{len(args) > 0, s.Model != "", s.ONNX != ""} {
		if given {
			n++
		}
	}
	if n != 1 {
		return usageErrorf("give one of ARCH, --model NAME (gozoo zoo list) or --onnx FILE")
	}
	switch {
	case len(args) > 0:
		m.Arch = args[0]
	case s.ONNX != "":
		if m.Weights != "" {
			return usageErrorf("--onnx %s holds the weights: drop --weights", s.ONNX)
		}
		abs, err := filepath.Abs(s.ONNX)
		if err != nil {
			return err
		}
		ins, err := bridge.ReadONNXInputs(abs)
		if err != nil {
			return fmt.Errorf("--onnx %s: %w", s.ONNX, err)
		}
		m.Arch, m.Plugin, m.Weights = "onnx", "onnx", abs
		s.inputs, s.desc = ins, s.ONNX
	default:
		if m.Weights != "" {
			return usageErrorf("--model %s sets the weights: drop --weights, or give ARCH instead of --model", s.Model)
		}
		cat, err := loadCatalog(s.Catalogs)
		if err != nil {
			return err
		}
		e, err := cat.Lookup(s.Model)
		if err != nil {
			return err
		}
		cache, err := openCache(f.Err, s.Offline)
		if err != nil {
			return err
		}
		path, err := cache.Fetch(ctx, e)
		if err != nil {
			return err
		}
		m.Arch, m.Weights = e.Arch, path
		if m.Plugin == "" && e.Plugin != "" {
			m.Plugin = e.Plugin
			m.pluginFrom = "named by " + e.Name + "; --plugin picks another"
		}
		have, err := parseOpts(m.Opts)
		if err != nil {
			return err
		}
		if m.NumClasses > 0 {
			have["num_classes"] = strconv.Itoa(m.NumClasses)
		}
		var added []string
		for k, v := range e.Options {
			if _, ok := have[k]; !ok {
				m.Opts = append(m.Opts, k+"="+v)
				added = append(added, k+"="+v)
			}
		}
		s.desc = fmt.Sprintf("%s: arch %s, weights %s", e.Name, e.Arch, path)
		if len(added) > 0 {
			s.desc += ", options " + strings.Join(slices.Sorted(slices.Values(added)), ",")
		}
	}
	return nil
}

// inputShape returns the input shape for Layers: --input-shape, or
// --input-size over the model's default, or nil for the model's own.
// An --onnx file whose input has free dimensions besides the batch needs
// one of them.
func (s *modelSource) inputShape(def []int64, inputSize, inputShape string) ([]int64, error) {
	if len(s.inputs) > 0 {
		def = s.inputs[0].Shape
	}
	if inputShape != "" {
		if inputSize != "" {
			return nil, usageErrorf("give --input-size or --input-shape, not both")
		}
		return parseInputShape(inputShape, def)
	}
	shape, err := parseInputSize(inputSize, def)
	if err != nil || shape != nil || len(s.inputs) == 0 {
		return shape, err
	}
	for i, d := range def {
		if i > 0 && d < 0 {
			return nil, usageErrorf("%s's input %s has free dimensions besides the batch: give --input-shape, e.g. %s", s.ONNX, s.inputs[0], exampleShape(def))
		}
	}
	return nil, nil
}

// parseInputShape reads a full input shape "N,3,224,224" or "1,12"; N or
// -1 is allowed for the batch only. def, when known, fixes the rank.
func parseInputShape(s string, def []int64) ([]int64, error) {
	parts := strings.Split(s, ",")
	if len(def) > 0 && len(parts) != len(def) {
		return nil, usageErrorf("--input-shape %q: the input has %d dimensions (%s)", s, len(def), sdk.FormatShape(def))
	}
	shape := make([]int64, len(parts))
	for i, p := range parts {
		p = strings.TrimSpace(p)
		if i == 0 && (p == "N" || p == "-1") {
			shape[i] = 1
			continue
		}
		v, err := strconv.ParseInt(p, 10, 64)
		if err != nil || v <= 0 {
			return nil, usageErrorf("--input-shape %q: want positive integers (N for the batch), e.g. N,3,224,224", s)
		}
		shape[i] = v
	}
	return shape, nil
}

func exampleShape(def []int64) string {
	parts := make([]string, len(def))
	for i, d := range def {
		switch {
		case i == 0:
			parts[i] = "N"
		case d < 0:
			parts[i] = "16"
		default:
			parts[i] = strconv.FormatInt(d, 10)
		}
	}
	return strings.Join(parts, ",")
}
