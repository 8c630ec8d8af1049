package cli

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/spf13/cobra"
)

// modelFlags are the flags that say which model to load, shared by the
// commands that load one.
type modelFlags struct {
	Arch       string
	Plugin     string
	Weights    string
	NumClasses int
	Opts       []string
	Device     string
	Threads    int
	Seed       int64
}

func (m *modelFlags) register(cmd *cobra.Command, withArchFlag bool) {
	fl := cmd.Flags()
	if withArchFlag {
		fl.StringVar(&m.Arch, "arch", "", "architecture, e.g. resnet50 (gozoo plugins lists them)")
	}
	fl.StringVar(&m.Plugin, "plugin", "", "plugin to load the arch from (default: the first plugin offering it)")
	fl.StringVar(&m.Weights, "weights", "", "PyTorch checkpoint (.pth state_dict or .safetensors); default: seeded random init")
	fl.IntVar(&m.NumClasses, "num-classes", 0, "classifier outputs, when they differ from the arch's default")
	fl.StringSliceVar(&m.Opts, "opt", nil, "arch options as key=value[,key=value] (gozoo layers ARCH lists them)")
	fl.StringVar(&m.Device, "device", "cpu", "execution device: cpu, cuda, cuda:N or tensorrt")
	fl.IntVar(&m.Threads, "threads", 0, "intra-op threads (0: ONNX Runtime's default; at most 4 per CPU)")
	fl.Int64Var(&m.Seed, "seed", 0, "seed of the random init when no --weights")
}

// request turns the flags into a LoadRequest.
func (m *modelFlags) request() (*sdk.LoadRequest, error) {
	opts, err := parseOpts(m.Opts)
	if err != nil {
		return nil, err
	}
	if m.Threads < 0 || m.Threads > ort.MaxThreads() {
		return nil, usageErrorf("--threads %d: give 0 (ONNX Runtime's default) up to %d (4 per CPU)", m.Threads, ort.MaxThreads())
	}
	if m.NumClasses < 0 {
		return nil, usageErrorf("--num-classes %d: must be positive", m.NumClasses)
	}
	if m.NumClasses > 0 {
		if v, ok := opts["num_classes"]; ok && v != strconv.Itoa(m.NumClasses) {
			return nil, usageErrorf("--num-classes %d conflicts with --opt num_classes=%s", m.NumClasses, v)
		}
		opts["num_classes"] = strconv.Itoa(m.NumClasses)
	}
	return &sdk.LoadRequest{
		Arch:        m.Arch,
		Options:     opts,
		WeightsPath: m.Weights,
		Seed:        m.Seed,
		Device:      m.Device,
		Threads:     m.Threads,
	}, nil
}

// parseOpts reads key=value pairs; a key given twice is an error.
func parseOpts(kvs []string) (map[string]string, error) {
	out := map[string]string{}
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usageErrorf("--opt %q: want key=value", kv)
		}
		if _, dup := out[k]; dup {
			return nil, usageErrorf("--opt %s given twice", k)
		}
		out[k] = strings.TrimSpace(v)
	}
	return out, nil
}

// withOptions names the options given, for an error that blames one.
func withOptions(err error, opts map[string]string) string {
	if !errors.Is(err, sdk.ErrBadOption) || len(opts) == 0 {
		return ""
	}
	var kv []string
	for _, k := range slices.Sorted(maps.Keys(opts)) {
		kv = append(kv, k+"="+opts[k])
	}
	return " with options " + strings.Join(kv, ",")
}

// resolved is a backbone chosen for an arch, with its description.
type resolved struct {
	Plugin string
	BB     sdk.Backbone
	Desc   *sdk.Description
	Arch   sdk.Arch
}

// resolve finds the plugin offering arch: the one named by plugin, or the
// first (in search-path order) whose Describe lists arch.
func (f *Factory) resolve(ctx context.Context, arch, plugin string) (*resolved, error) {
	if arch == "" {
		return nil, usageErrorf("no architecture given (gozoo plugins lists them)")
	}
	h, err := f.Host()
	if err != nil {
		return nil, err
	}
	infos, err := h.Plugins()
	if err != nil {
		return nil, err
	}
	if len(infos) == 0 {
		return nil, fmt.Errorf("no gozoo-backbone-* plugins found: run make build, or set GOZOO_PLUGIN_PATH or --plugin-path")
	}
	var all []string
	var errs []error
	for _, in := range infos {
		if plugin != "" && in.Name != plugin {
			continue
		}
		bb, err := h.Backbone(ctx, in.Name)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %s: %w", in.Name, err))
			continue
		}
		d, err := bb.Describe(ctx)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %s: describe: %w", in.Name, err))
			continue
		}
		for _, a := range d.Archs {
			if a.Name == arch {
				return &resolved{Plugin: in.Name, BB: bb, Desc: d, Arch: a}, nil
			}
			all = append(all, a.Name)
		}
	}
	if plugin != "" && len(all) == 0 && len(errs) == 0 {
		return nil, fmt.Errorf("no plugin named %q (gozoo plugins lists them)", plugin)
	}
	sort.Strings(all)
	msg := fmt.Sprintf("no plugin offers arch %q", arch)
	if s := sdk.Suggest(arch, all, 3); len(s) > 0 {
		msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, ", "))
	} else if len(all) > 0 {
		msg += fmt.Sprintf("; known: %s", strings.Join(all, ", "))
	}
	return nil, errors.Join(append([]error{fmt.Errorf("%w: %s", sdk.ErrUnknownArch, msg)}, errs...)...)
}

// load resolves the arch and loads the model. The caller must Close it.
func (f *Factory) load(ctx context.Context, m *modelFlags) (sdk.Model, *resolved, error) {
	req, err := m.request()
	if err != nil {
		return nil, nil, err
	}
	r, err := f.resolve(ctx, m.Arch, m.Plugin)
	if err != nil {
		return nil, nil, err
	}
	model, err := r.BB.Load(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s from plugin %s%s: %w", m.Arch, r.Plugin, withOptions(err, req.Options), err)
	}
	return model, r, nil
}
