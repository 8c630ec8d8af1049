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
	"github.com/gozoo/gozoo/sdk/host"
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

	// train chooses a plugin that can train (see choosePlugin); commands
	// that train set it.
	train bool
	// pluginFrom says who chose Plugin when the user did not (a catalog
	// entry), for the line that prints the choice.
	pluginFrom string
}

func (m *modelFlags) register(cmd *cobra.Command, withArchFlag bool) {
	fl := cmd.Flags()
	if withArchFlag {
		fl.StringVar(&m.Arch, "arch", "", "architecture, e.g. resnet50 (gozoo plugins lists them)")
	}
	fl.StringVar(&m.Plugin, "plugin", "", "plugin to load the arch from (default: a native plugin offering it for extraction, one that can train for finetune)")
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
	Why    string // why this plugin serves, as printed
}

// resolve finds the plugin that serves arch for extraction (see
// choosePlugin): the one named by plugin, or the best ranked plugin
// offering it. It prints which plugin serves and why on standard error.
func (f *Factory) resolve(ctx context.Context, arch, plugin string) (*resolved, error) {
	return f.resolveFor(ctx, arch, plugin, false)
}

// resolveFor is resolve for extraction (train false) or training. Plugins
// are found from their cached Describe answers; only the chosen one, and
// plugins the cache does not know yet, are started.
func (f *Factory) resolveFor(ctx context.Context, arch, plugin string, train bool) (*resolved, error) {
	return f.resolveFrom(ctx, arch, plugin, "", train)
}

// resolveFrom is resolveFor where from, when not empty, says who named
// plugin instead of the user.
func (f *Factory) resolveFrom(ctx context.Context, arch, plugin, from string, train bool) (*resolved, error) {
	if arch == "" {
		return nil, usageErrorf("no architecture given (gozoo plugins lists them)")
	}
	h, err := f.Host()
	if err != nil {
		return nil, err
	}
	var all []host.Described
	if plugin != "" {
		d, err := h.Describe(ctx, plugin)
		if errors.Is(err, host.ErrNotFound) {
			return nil, fmt.Errorf("no plugin named %q (gozoo plugins lists them): %w", plugin, err)
		}
		all = []host.Described{{PluginInfo: host.PluginInfo{Name: plugin}, Description: d, Err: err}}
	} else if all, err = h.DescribeAll(ctx); err != nil {
		return nil, err
	}
	if len(all) == 0 {
		return nil, fmt.Errorf("no gozoo-backbone-* plugins found: run make build, or set GOZOO_PLUGIN_PATH or --plugin-path")
	}
	var (
		offers []host.Described
		known  []string
		errs   []error
	)
	for _, d := range all {
		if d.Err != nil {
			errs = append(errs, fmt.Errorf("plugin %s: %w", d.Name, d.Err))
			continue
		}
		for _, a := range d.Description.Archs {
			if a.Name == arch {
				offers = append(offers, d)
				break
			}
			known = append(known, a.Name)
		}
	}
	if len(offers) == 0 {
		sort.Strings(known)
		known = slices.Compact(known) // an arch offered by several plugins
		msg := fmt.Sprintf("no plugin offers arch %q", arch)
		if plugin != "" {
			msg = fmt.Sprintf("plugin %s does not offer arch %q", plugin, arch)
		}
		if s := sdk.Suggest(arch, known, 3); len(s) > 0 {
			msg += fmt.Sprintf("; did you mean %s?", strings.Join(s, ", "))
		} else if len(known) > 0 {
			msg += fmt.Sprintf("; known: %s", strings.Join(known, ", "))
		}
		return nil, errors.Join(append([]error{fmt.Errorf("%w: %s", sdk.ErrUnknownArch, msg)}, errs...)...)
	}
	pick, why, err := choosePlugin(arch, offers, plugin != "", train)
	if err == nil && plugin != "" && from != "" {
		why = from
	}
	if err != nil {
		// A plugin that failed to answer may be the one that would serve.
		return nil, errors.Join(append([]error{err}, errs...)...)
	}
	bb, err := h.Backbone(ctx, pick.Name)
	if err != nil {
		return nil, err
	}
	r := &resolved{Plugin: pick.Name, BB: bb, Desc: pick.Description, Why: why}
	for _, a := range pick.Description.Archs {
		if a.Name == arch {
			r.Arch = a
		}
	}
	if f.Err != nil {
		fmt.Fprintf(f.Err, "%s: plugin %s (%s)\n", arch, r.Plugin, why)
	}
	return r, nil
}

// choosePlugin picks the plugin that serves arch among offers, the
// plugins whose Describe lists it, and says why. The rule:
//   - named with --plugin (asked true): that plugin;
//   - training: the plugins with the train capability, others never;
//   - extraction: native plugins (executables, which run the model on ONNX
//     Runtime in Go) before manifest plugins (gozoo-backbone-NAME.plugin,
//     such as the Python torch plugin).
//
// Two plugins equally ranked at the top are an error that names them and
// --plugin.
func choosePlugin(arch string, offers []host.Described, asked, train bool) (host.Described, string, error) {
	if asked && len(offers) == 1 {
		return offers[0], "asked for by name", nil
	}
	rank := func(d host.Described) int {
		switch {
		case train && !d.Description.Capabilities.Train:
			return -1
		case train, !d.Manifest:
			return 0
		}
		return 1
	}
	best := -1
	var top, rest []host.Described
	for _, d := range offers {
		switch r := rank(d); {
		case r < 0:
			rest = append(rest, d)
		case best < 0 || r < best:
			best = r
			rest = append(rest, top...)
			top = []host.Described{d}
		case r == best:
			top = append(top, d)
		default:
			rest = append(rest, d)
		}
	}
	names := func(ds []host.Described) string {
		var n []string
		for _, d := range ds {
			n = append(n, d.Name)
		}
		sort.Strings(n)
		return strings.Join(n, ", ")
	}
	kind := map[bool]string{true: "manifest", false: "native"}
	switch {
	case len(top) == 0:
		return host.Described{}, "", fmt.Errorf("%w: no plugin that can train offers arch %q (offered by %s, which cannot train): install the torch plugin, or choose another arch",
			sdk.ErrUnsupported, arch, names(rest))
	case len(top) > 1:
		how := "both " + kind[top[0].Manifest]
		if train {
			how = "both can train"
		}
		var flags []string
		for _, d := range top {
			flags = append(flags, "--plugin "+d.Name)
		}
		sort.Strings(flags)
		return host.Described{}, "", usageErrorf("arch %q is offered by plugins %s, equally ranked (%s): choose one with %s",
			arch, names(top), how, strings.Join(flags, " or "))
	}
	why := kind[top[0].Manifest]
	if train {
		why = "can train"
	}
	switch {
	case len(rest) == 0:
		why += "; the only plugin offering it"
	case train:
		why += fmt.Sprintf("; also offered by %s, which cannot", names(rest))
	default:
		why += "; also offered by " + names(rest)
	}
	return top[0], why, nil
}

// load resolves the arch and loads the model. The caller must Close it.
func (f *Factory) load(ctx context.Context, m *modelFlags) (sdk.Model, *resolved, error) {
	req, err := m.request()
	if err != nil {
		return nil, nil, err
	}
	r, err := f.resolveFrom(ctx, m.Arch, m.Plugin, m.pluginFrom, m.train)
	if err != nil {
		return nil, nil, err
	}
	model, err := r.BB.Load(ctx, req)
	if err != nil {
		return nil, nil, fmt.Errorf("load %s from plugin %s%s: %w", m.Arch, r.Plugin, withOptions(err, req.Options), err)
	}
	return model, r, nil
}
