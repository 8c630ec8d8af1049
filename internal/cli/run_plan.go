package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gozoo/gozoo/internal/config"
	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// runner plans and runs one gozoo run.
type runner struct {
	f      *Factory
	root   *config.Loaded
	models map[string]*plannedModel
}

// plannedModel is a model resolved and checked against its plugin.
type plannedModel struct {
	key          string
	name         string // catalog name, or ""
	flags        modelFlags
	spec         *modelSpec
	res          *resolved
	plugin       host.PluginInfo
	layerNames   []string
	paramNames   []string
	defaultLayer string
}

func (m *plannedModel) label() string {
	if m.name != "" {
		return m.name
	}
	if m.flags.Weights != "" {
		return m.flags.Arch + "@" + filepath.Base(m.flags.Weights)
	}
	return fmt.Sprintf("%s(seed %d)", m.flags.Arch, m.flags.Seed)
}

// unit is one run: the whole run, or one trial of a compare.
type unit struct {
	index     int
	settings  []config.Setting
	cfg       *config.Loaded
	model     *plannedModel
	layers    []string
	trainable int
	r         *runner
}

// errAt places an error about key at the grid value that set it, or at
// key's line in the config.
func (r *runner) errAt(u *unit, key, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	for _, s := range u.settings {
		if key == s.Key || strings.HasPrefix(key, s.Key+".") || strings.HasPrefix(s.Key, key+".") {
			at := fmt.Sprintf("compare.grid.%d.values.%d", s.Axis, s.Index)
			return r.root.Errorf(at, "trial %d (%s): %s", u.index+1, describeSettings(u.settings), msg)
		}
	}
	if len(u.settings) > 0 {
		return r.root.Errorf(key, "trial %d (%s): %s", u.index+1, describeSettings(u.settings), msg)
	}
	return r.root.Errorf(key, "%s", msg)
}

// plan resolves every trial and checks it against the plugins, computing
// nothing.
func (r *runner) plan(ctx context.Context) ([]*unit, error) {
	var units []*unit
	if r.root.Kind != config.KindCompare {
		units = append(units, &unit{cfg: r.root, r: r})
	} else {
		for i, s := range r.root.Trials() {
			t, err := r.root.Trial(s)
			if err != nil {
				var ce *config.Error
				msg := err.Error()
				if errors.As(err, &ce) {
					msg = ce.Msg
				}
				return nil, r.root.Errorf(fmt.Sprintf("compare.grid.%d.values.%d", s[0].Axis, s[0].Index), "trial %d (%s): %s", i+1, describeSettings(s), msg)
			}
			units = append(units, &unit{index: i, settings: s, cfg: t, r: r})
		}
	}
	for _, u := range units {
		if err := r.planUnit(ctx, u); err != nil {
			return nil, err
		}
	}
	return units, nil
}

// configTransform turns model.resize and model.crop into transform
// overrides.
func configTransform(c *config.Loaded) *transformFlags {
	t := &transformFlags{Resize: c.Model.Resize, Crop: c.Model.Crop}
	t.changed = func(n string) bool {
		return (n == "resize" && t.Resize > 0) || (n == "crop" && len(t.Crop) > 0)
	}
	return t
}

func optionStrings(opts map[string]any) []string {
	var out []string
	for k, v := range opts {
		out = append(out, fmt.Sprintf("%s=%v", k, v))
	}
	sort.Strings(out)
	return out
}

func (r *runner) planUnit(ctx context.Context, u *unit) error {
	c := u.cfg
	if _, err := openData(c.Data.Path, c.Data.Format, ""); err != nil {
		return r.errAt(u, "data.path", "%v", err)
	}
	mf := modelFlags{Arch: c.Model.Arch, Plugin: c.Model.Plugin, Weights: c.Model.Weights,
		Opts: optionStrings(c.Model.Options), Device: c.Device, Threads: c.Threads, Seed: c.Seed}
	if c.Kind == config.KindFinetune && mf.Plugin == "" {
		mf.Plugin = "torch"
	}
	kb, _ := json.Marshal([]any{c.Model.Name, mf, c.Model.Resize, c.Model.Crop})
	key := fmt.Sprintf("%x", sha256.Sum256(kb))
	m, ok := r.models[key]
	if !ok {
		m = &plannedModel{key: key, name: c.Model.Name, flags: mf}
		modelKey := "model.arch"
		if c.Model.Name != "" {
			modelKey = "model.name"
		}
		spec, err := r.f.resolveSpec(ctx, &m.flags, &catalogFlags{Model: c.Model.Name, Offline: os.Getenv("GOZOO_OFFLINE") == "1"}, configTransform(c))
		if err != nil {
			return r.errAt(u, modelKey, "%s", strings.TrimPrefix(err.Error(), "usage: "))
		}
		m.spec = spec
		res, err := r.f.resolve(ctx, m.flags.Arch, m.flags.Plugin)
		if err != nil {
			if errors.Is(err, sdk.ErrUnknownArch) || errors.Is(err, errUsage) {
				return r.errAt(u, modelKey, "%s", oneLine(err))
			}
			return err
		}
		m.res = res
		h, err := r.f.Host()
		if err != nil {
			return err
		}
		infos, err := h.Plugins()
		if err != nil {
			return err
		}
		for _, in := range infos {
			if in.Name == res.Plugin {
				m.plugin = in
			}
		}
		if err := r.loadForCheck(ctx, m); err != nil {
			return r.errAt(u, "model.options", "load %s from plugin %s: %s", m.flags.Arch, res.Plugin, oneLine(err))
		}
		r.models[key] = m
	}
	u.model = m
	if c.Kind == config.KindFinetune {
		return r.checkPatterns(u)
	}
	u.layers = c.Model.Layers
	if len(u.layers) == 0 {
		if m.spec.Layer == "" {
			return r.errAt(u, "model.layers", "model.layers is required for %s (gozoo layers %s lists them)", m.label(), m.flags.Arch)
		}
		u.layers = []string{m.spec.Layer}
		m.defaultLayer = m.spec.Layer
		fmt.Fprintf(r.f.Err, "layers: %s (the model's default; model.layers picks others)\n", m.spec.Layer)
	}
	for _, l := range u.layers {
		if !contains(m.layerNames, l) {
			msg := fmt.Sprintf("layer %q does not exist in %s", l, m.label())
			if s := sdk.Suggest(l, m.layerNames, 3); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, ", ") + "?"
			} else {
				msg += fmt.Sprintf(" (gozoo layers %s lists its %d layers)", m.flags.Arch, len(m.layerNames))
			}
			return r.errAt(u, "model.layers", "%s", msg)
		}
	}
	return nil
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func oneLine(err error) string {
	return strings.ReplaceAll(strings.TrimPrefix(err.Error(), "usage: "), "\n", "; ")
}

// checkPatterns checks every freeze and unfreeze pattern matches a
// parameter and counts the trainable ones.
func (r *runner) checkPatterns(u *unit) error {
	m := u.model
	trainable := map[string]bool{}
	for _, p := range m.paramNames {
		trainable[p] = true
	}
	for _, g := range []struct {
		key      string
		patterns []string
		value    bool
	}{{"finetune.freeze", u.cfg.Finetune.Freeze, false}, {"finetune.unfreeze", u.cfg.Finetune.Unfreeze, true}} {
		for _, pat := range g.patterns {
			n := 0
			for _, p := range m.paramNames {
				ok, err := sdk.MatchPattern(pat, p)
				if err != nil {
					return r.errAt(u, g.key, "pattern %q: %v", pat, err)
				}
				if ok {
					trainable[p] = g.value
					n++
				}
			}
			if n == 0 {
				msg := fmt.Sprintf("pattern %q matches no parameter of %s", pat, m.label())
				if s := sdk.Suggest(strings.TrimSuffix(pat, "*"), prefixes(m.paramNames), 3); len(s) > 0 {
					msg += "; did you mean " + strings.Join(s, "*, ") + "*?"
				} else {
					msg += fmt.Sprintf(" (gozoo params --arch %s lists them)", m.flags.Arch)
				}
				return r.errAt(u, g.key, "%s", msg)
			}
		}
	}
	for _, v := range trainable {
		if v {
			u.trainable++
		}
	}
	return nil
}

// prefixes returns every dotted prefix of the names, with its dot.
func prefixes(names []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, n := range names {
		parts := strings.Split(n, ".")
		for i := 1; i < len(parts); i++ {
			p := strings.Join(parts[:i], ".") + "."
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// openData opens a data path; digits_csv (scikit-learn's digits.csv.gz)
// is converted once to IDX files under cacheDir ("" to only check it).
func openData(path, format, cacheDir string) (*dataset.Dataset, error) {
	if format == "digits_csv" || (format == "auto" && strings.HasSuffix(path, ".csv.gz")) {
		imgs, labels, err := readDigitsCSV(path)
		if err != nil {
			return nil, err
		}
		if cacheDir == "" {
			return &dataset.Dataset{Kind: "digits_csv", Samples: make([]dataset.Sample, len(labels))}, nil
		}
		idx, err := writeDigitsIDX(path, imgs, labels, cacheDir)
		if err != nil {
			return nil, err
		}
		return dataset.OpenKind(idx, "idx")
	}
	return dataset.OpenKind(path, format)
}

// dataKey identifies a data source for the feature cache: its path,
// format, size and modification time.
func dataKey(path, format string) string {
	st, err := os.Stat(path)
	if err != nil {
		return path
	}
	return fmt.Sprintf("%s|%s|%d|%d", path, format, st.Size(), st.ModTime().UnixNano())
}

// featureKey is the content address of one layer's features for u.
func (u *unit) featureKey(layer string) string {
	c := u.cfg
	m := u.model
	seed := int64(0)
	if m.flags.Weights == "" || c.Data.Limit > 0 {
		seed = c.Seed
	}
	b, _ := json.Marshal(map[string]any{
		"model": m.spec.ID, "arch": m.flags.Arch, "plugin": m.res.Plugin, "options": m.flags.Opts,
		"layer": layer, "transform": m.spec.Pre.String(), "data": dataKey(c.Data.Path, c.Data.Format),
		"limit": c.Data.Limit, "seed": seed, "classes": m.spec.Classes,
	})
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])[:32]
}

func (r *runner) cacheDir() string { return filepath.Join(r.root.RunsDir, ".cache") }

func (r *runner) cachePath(key string) string {
	return filepath.Join(r.cacheDir(), "features", key+".npz")
}
