package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/config"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/spf13/cobra"
)

// RunOptions configures gozoo run.
type RunOptions struct {
	f           *Factory
	Config      string
	Sets        []string
	Resume      string
	PrintConfig bool
	DryRun      bool
}

// NewCmdRun returns `gozoo run`.
func NewCmdRun(f *Factory, runF func(context.Context, *RunOptions) error) *cobra.Command {
	o := &RunOptions{f: f}
	cmd := &cobra.Command{
		Use:   "run CONFIG [--set KEY=VALUE]... [--resume RUNDIR] [--print-config] [--dry-run]",
		Short: "Run an experiment config: extract, probe, finetune or compare",
		Long: `Run reads an experiment config (YAML; configs/ holds examples) and runs it
into a new run folder under runs_dir, named NAME-UTCTIME-HASH: the config as
given, the resolved config (rerunnable as is), the overrides, provenance.json,
log.txt, metrics.json, predictions.csv, the trained head, PNG plots and
report.md. A compare config runs every combination of its grid as a trial
in trials/NNN and writes leaderboard.csv; features are computed once per
model, layer, transform and data, in a cache under runs_dir/.cache, and
shared by every trial and later run.

--set KEY=VALUE overrides a key (a dotted path such as probe.k or
model.layers, VALUE as YAML: --set 'model.layers=[layer3]'); GOZOO_RUNS_DIR
and GOZOO_DEVICE override runs_dir and device. --dry-run checks everything,
the arch, layers and parameter patterns against the plugin included, and
prints the planned trials without computing. --resume RUNDIR continues an
interrupted run (finished trials are skipped; a changed config is refused).
A config error exits with status 2 and leaves no run folder.`,
		Example: `  gozoo run configs/probe-digits.yaml
  gozoo run configs/compare-digits-layers.yaml --set data.limit=400 --dry-run
  gozoo run configs/compare-digits-layers.yaml --resume runs/compare-digits-layers-20261202T101500Z-3fa2c1`,
		Args: cobra.RangeArgs(0, 1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				o.Config = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runRun(cmd.Context(), o)
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&o.Sets, "set", nil, "override a config key: KEY=VALUE (VALUE is YAML), repeatable")
	fl.StringVar(&o.Resume, "resume", "", "continue the run folder RUNDIR (its resolved config when CONFIG is not given)")
	fl.BoolVar(&o.PrintConfig, "print-config", false, "print the resolved config (defaults filled, paths absolute) and exit")
	fl.BoolVar(&o.DryRun, "dry-run", false, "validate the config against the plugins and print the planned trials without computing")
	return cmd
}

// configErr turns a config error into a usage error (exit status 2).
func configErr(err error) error {
	if errors.Is(err, config.ErrInvalid) {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	return err
}

func runRun(ctx context.Context, o *RunOptions) error {
	path := o.Config
	if path == "" {
		if o.Resume == "" {
			return usageErrorf("give a config file (configs/ has examples), or --resume RUNDIR")
		}
		path = filepath.Join(o.Resume, resolvedName)
	}
	l, err := config.Load(path, o.Sets)
	if err != nil {
		return configErr(err)
	}
	resolved, err := config.Marshal(&l.Experiment)
	if err != nil {
		return err
	}
	if o.PrintConfig {
		_, err := o.f.Out.Write(resolved)
		return err
	}
	r := &runner{f: o.f, root: l, models: map[string]*plannedModel{}}
	plan, err := r.plan(ctx)
	if err != nil {
		return configErr(err)
	}
	if o.DryRun {
		r.printPlan(o.f.Out, plan)
		return nil
	}
	var dir string
	if o.Resume != "" {
		dir, err = resumeDir(o.Resume, resolved)
	} else {
		dir, err = newRunDir(l, resolved)
	}
	if err != nil {
		return err
	}
	return r.execute(ctx, dir, plan, resolved, o.Resume != "")
}

// File names in a run folder.
const (
	resolvedName  = "config.resolved.yaml"
	givenName     = "config.yaml"
	overridesName = "overrides.txt"
	statusName    = "status.json"
	metricsName   = "metrics.json"
	logName       = "log.txt"
)

// newRunDir makes a new run folder NAME-UTCTIME-HASH under runs_dir; it
// never reuses one.
func newRunDir(l *config.Loaded, resolved []byte) (string, error) {
	if err := os.MkdirAll(l.RunsDir, 0o755); err != nil {
		return "", fmt.Errorf("runs_dir: %w", err)
	}
	for i := 0; ; i++ {
		now := time.Now().UTC()
		h := sha256.New()
		fmt.Fprintf(h, "%s\n%d\n%d\n%d", resolved, now.UnixNano(), os.Getpid(), i)
		name := fmt.Sprintf("%s-%s-%s", safeName(l.Name), now.Format("20060102T150405Z"), hex.EncodeToString(h.Sum(nil))[:6])
		dir := filepath.Join(l.RunsDir, name)
		err := os.Mkdir(dir, 0o755)
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, os.ErrExist) || i > 100 {
			return "", fmt.Errorf("run folder: %w", err)
		}
	}
}

func safeName(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_', r == '.':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "run"
	}
	return b.String()
}

// resumeDir checks that dir was made for the same resolved config.
func resumeDir(dir string, resolved []byte) (string, error) {
	old, err := os.ReadFile(filepath.Join(dir, resolvedName))
	if err != nil {
		return "", usageErrorf("--resume %s: not a run folder (no %s)", dir, resolvedName)
	}
	if string(old) != string(resolved) {
		return "", usageErrorf("--resume %s: the resolved config changed (%s); start a new run without --resume, or resume with the run's own config: gozoo run --resume %s",
			dir, firstDiff(string(old), string(resolved)), dir)
	}
	return dir, nil
}

// firstDiff names the first line that differs between two YAML texts.
func firstDiff(a, b string) string {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := 0; i < max(len(al), len(bl)); i++ {
		var x, y string
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return fmt.Sprintf("line %d was %q, now %q", i+1, strings.TrimSpace(x), strings.TrimSpace(y))
		}
	}
	return "no line differs"
}

// status is a run folder's status.json.
type status struct {
	Status   string    `json:"status"` // running, finished, failed, interrupted
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Error    string    `json:"error,omitempty"`
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

func readStatus(dir string) status {
	var s status
	b, err := os.ReadFile(filepath.Join(dir, statusName))
	if err == nil {
		json.Unmarshal(b, &s)
	}
	return s
}

// execute runs the plan into dir.
func (r *runner) execute(ctx context.Context, dir string, plan []*unit, resolved []byte, resuming bool) (err error) {
	logf, err := os.OpenFile(filepath.Join(dir, logName), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	origErr := r.f.Err
	r.f.Err = io.MultiWriter(origErr, logf)
	defer func() { r.f.Err = origErr }()

	st := status{Status: "running", Started: time.Now().UTC()}
	if resuming {
		if old := readStatus(dir); old.Status == "finished" {
			fmt.Fprintf(r.f.Err, "run %s already finished: nothing to do\n", dir)
			return nil
		}
		fmt.Fprintf(r.f.Err, "resuming %s\n", dir)
	} else {
		for name, b := range map[string][]byte{givenName: r.root.Source, resolvedName: resolved,
			overridesName: []byte(strings.Join(append(append([]string{}, r.root.Overrides...), r.root.Env...), "\n") + "\n")} {
			if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
				return err
			}
		}
	}
	if err := writeJSON(filepath.Join(dir, statusName), st); err != nil {
		return err
	}
	fmt.Fprintf(r.f.Err, "run folder: %s\n", dir)
	defer func() {
		st.Finished = time.Now().UTC()
		switch {
		case err == nil:
			st.Status = "finished"
		case ctx.Err() != nil:
			st.Status, st.Error = "interrupted", ctx.Err().Error()
			err = fmt.Errorf("interrupted: %w; finish it with: gozoo run --resume %s", err, dir)
		default:
			st.Status, st.Error = "failed", err.Error()
		}
		if werr := writeJSON(filepath.Join(dir, statusName), st); werr != nil {
			err = errors.Join(err, werr)
		}
		if st.Status == "interrupted" {
			fmt.Fprintf(r.f.Err, "run interrupted: %s; finish it with: gozoo run --resume %s\n", dir, dir)
		} else {
			fmt.Fprintf(r.f.Err, "run %s: %s\n", st.Status, dir)
		}
	}()
	if err := r.writeProvenance(ctx, dir, plan); err != nil {
		return err
	}
	if r.root.Kind != config.KindCompare {
		return r.runUnit(ctx, dir, plan[0])
	}
	return r.runCompare(ctx, dir, plan)
}

// provenance is a run's provenance.json.
type provenance struct {
	GozooVersion string            `json:"gozoo_version"`
	GitCommit    string            `json:"git_commit"`
	GitDirty     bool              `json:"git_dirty"`
	GoVersion    string            `json:"go_version"`
	CommandLine  []string          `json:"command_line"`
	WorkDir      string            `json:"work_dir"`
	Started      time.Time         `json:"started"`
	ORTVersion   string            `json:"ort_version"`
	Device       string            `json:"device"`
	Threads      int               `json:"threads"`
	Seed         int64             `json:"seed"`
	Models       []modelProvenance `json:"models"`
}

type modelProvenance struct {
	Model          string   `json:"model"`
	Arch           string   `json:"arch"`
	Options        []string `json:"options"`
	Plugin         string   `json:"plugin"`
	PluginPath     string   `json:"plugin_path"`
	PluginSHA256   string   `json:"plugin_sha256"`
	Weights        string   `json:"weights"`
	WeightsSHA256  string   `json:"weights_sha256"`
	Preprocessing  string   `json:"preprocessing"`
	PreprocSource  string   `json:"preprocessing_source"`
	Classes        int      `json:"classes"`
	ClassesSource  string   `json:"classes_source"`
	ModelSource    string   `json:"model_source"`
	DefaultedLayer string   `json:"defaulted_layer,omitempty"`
}

func (r *runner) writeProvenance(ctx context.Context, dir string, plan []*unit) error {
	p := provenance{GozooVersion: "devel", CommandLine: os.Args, Started: time.Now().UTC(),
		Device: r.root.Device, Threads: r.root.Threads, Seed: r.root.Seed}
	p.WorkDir, _ = os.Getwd()
	if bi, ok := debug.ReadBuildInfo(); ok {
		p.GoVersion = bi.GoVersion
		if bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			p.GozooVersion = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				p.GitCommit = s.Value
			case "vcs.modified":
				p.GitDirty = s.Value == "true"
			}
		}
	}
	if p.GitCommit == "" {
		p.GitCommit, p.GitDirty = gitState()
	}
	if v, err := ort.Version(); err == nil {
		p.ORTVersion = v
	} else {
		p.ORTVersion = "unavailable: " + err.Error()
	}
	seen := map[string]bool{}
	for _, u := range plan {
		m := u.model
		if seen[m.key] {
			continue
		}
		seen[m.key] = true
		mp := modelProvenance{Model: m.name, Arch: m.flags.Arch, Options: m.flags.Opts, Plugin: m.plugin.Name,
			PluginPath: m.plugin.Path, PluginSHA256: m.plugin.SHA256, Weights: m.flags.Weights,
			ModelSource: m.spec.Source, Preprocessing: m.spec.Pre.String(), PreprocSource: m.spec.PreSource,
			Classes: len(m.spec.Classes), ClassesSource: m.spec.ClassesSource, DefaultedLayer: m.defaultLayer}
		if m.flags.Weights != "" {
			sum, err := fileSHA256(m.flags.Weights)
			if err != nil {
				return err
			}
			mp.WeightsSHA256 = sum
		}
		p.Models = append(p.Models, mp)
	}
	return writeJSON(filepath.Join(dir, "provenance.json"), p)
}

// gitState asks git about the checkout the gozoo executable sits in, for
// builds without VCS stamps (worktrees, -buildvcs=false).
func gitState() (string, bool) {
	exe, err := os.Executable()
	if err != nil {
		return "", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	dir := filepath.Dir(exe)
	out, err := exec.CommandContext(ctx, "git", "-C", dir, "rev-parse", "HEAD").Output()
	if err != nil {
		return "", false
	}
	st, _ := exec.CommandContext(ctx, "git", "-C", dir, "status", "--porcelain", "--untracked-files=no").Output()
	return strings.TrimSpace(string(out)), len(strings.TrimSpace(string(st))) > 0
}

// printPlan writes the dry run's report.
func (r *runner) printPlan(w io.Writer, plan []*unit) {
	fmt.Fprintf(w, "config %s: valid (%s, version %d)\n", r.root.File, r.root.Kind, r.root.Version)
	for _, m := range sortedModels(r.models) {
		fmt.Fprintf(w, "model %s: arch %s from plugin %s (%s), transform %s, %d layers, %d parameters checked\n",
			m.label(), m.flags.Arch, m.plugin.Name, m.spec.Source, m.spec.Pre, len(m.layerNames), len(m.paramNames))
	}
	for i, u := range plan {
		what := u.cfg.Kind
		var feat []string
		for _, l := range u.layers {
			state := "to compute"
			if _, err := os.Stat(r.cachePath(u.featureKey(l))); err == nil {
				state = "cached"
			}
			feat = append(feat, l+" ("+state+")")
		}
		if u.cfg.Kind == config.KindFinetune {
			feat = []string{fmt.Sprintf("freeze %v unfreeze %v: %d of %d parameters trainable", u.cfg.Finetune.Freeze, u.cfg.Finetune.Unfreeze, u.trainable, len(u.model.paramNames))}
		}
		fmt.Fprintf(w, "trial %d/%d: %s %s model %s; %s\n", i+1, len(plan), what, describeSettings(u.settings), u.model.label(), strings.Join(feat, ", "))
	}
	fmt.Fprintf(w, "dry run: nothing computed; runs would go under %s\n", r.root.RunsDir)
}

func describeSettings(s []config.Setting) string {
	if len(s) == 0 {
		return ""
	}
	var parts []string
	for _, x := range s {
		b, _ := json.Marshal(x.Value)
		parts = append(parts, x.Key+"="+string(b))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

func sortedModels(m map[string]*plannedModel) []*plannedModel {
	var out []*plannedModel
	for _, v := range m {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].key < out[j].key })
	return out
}

// loadForCheck loads m's arch with seeded random weights to list layers
// and parameters.
func (r *runner) loadForCheck(ctx context.Context, m *plannedModel) error {
	mf := m.flags
	mf.Weights = ""
	req, err := mf.request()
	if err != nil {
		return err
	}
	model, err := m.res.BB.Load(ctx, req)
	if err != nil {
		return err
	}
	defer model.Close()
	ls, err := model.Layers(ctx, &sdk.LayersRequest{})
	if err != nil {
		return err
	}
	for _, l := range ls {
		m.layerNames = append(m.layerNames, l.Name)
	}
	ps, err := model.Params(ctx)
	if err == nil {
		for _, p := range ps {
			m.paramNames = append(m.paramNames, p.Name)
		}
	}
	return nil
}
