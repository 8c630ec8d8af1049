package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"
)

// RunsOptions configures gozoo runs list and compare.
type RunsOptions struct {
	f       *Factory
	RunsDir string
	A, B    string
}

// NewCmdRuns returns `gozoo runs` with list and compare.
func NewCmdRuns(f *Factory, runF func(context.Context, string, *RunsOptions) error) *cobra.Command {
	o := &RunsOptions{f: f}
	def := os.Getenv("GOZOO_RUNS_DIR")
	if def == "" {
		def = "runs"
	}
	cmd := &cobra.Command{Use: "runs", Short: "List and compare the run folders of gozoo run"}
	cmd.PersistentFlags().StringVar(&o.RunsDir, "runs-dir", def, "folder of run folders (default $GOZOO_RUNS_DIR, else runs)")
	run := func(name string) func(*cobra.Command, []string) error {
		return func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				o.A, o.B = args[0], args[1]
			}
			if runF != nil {
				return runF(cmd.Context(), name, o)
			}
			if name == "list" {
				return runsList(o)
			}
			return runsCompare(o)
		}
	}
	cmd.AddCommand(&cobra.Command{Use: "list", Short: "List run folders with status, kind and top-1, newest first",
		Args: cobra.NoArgs, RunE: run("list")})
	cmd.AddCommand(&cobra.Command{Use: "compare RUN_A RUN_B", Short: "Config and metric differences of two run folders, side by side",
		Long: "RUN_A and RUN_B are run folders, or their names under --runs-dir.", Args: cobra.ExactArgs(2), RunE: run("compare")})
	return cmd
}

// runSummary is what runs list shows of one folder.
type runSummary struct {
	Name, Status, Kind, Started string
	Top1                        string
}

func summarize(dir string) (runSummary, bool) {
	b, err := os.ReadFile(filepath.Join(dir, resolvedName))
	if err != nil {
		return runSummary{}, false
	}
	var cfg struct {
		Kind string `yaml:"kind"`
	}
	yaml.Unmarshal(b, &cfg)
	st := readStatus(dir)
	s := runSummary{Name: filepath.Base(dir), Status: st.Status, Kind: cfg.Kind, Top1: "-"}
	if !st.Started.IsZero() {
		s.Started = st.Started.Format("2006-01-02 15:04:05Z")
	}
	if m, err := flatMetrics(dir); err == nil {
		if v, ok := m["top1"]; ok {
			s.Top1 = fmt.Sprintf("%.4f", v)
		}
	}
	if cfg.Kind == "compare" {
		if lb, err := os.ReadFile(filepath.Join(dir, "leaderboard.csv")); err == nil {
			lines := strings.Split(strings.TrimSpace(string(lb)), "\n")
			if len(lines) > 1 {
				head := strings.Split(lines[0], ",")
				best := strings.Split(lines[1], ",")
				for i, h := range head {
					if h == "top1" && i < len(best) {
						s.Top1 = best[i] + " (best trial " + best[1] + ")"
					}
				}
			}
		}
	}
	return s, true
}

func runsList(o *RunsOptions) error {
	es, err := os.ReadDir(o.RunsDir)
	if err != nil {
		return fmt.Errorf("runs: %w (gozoo run writes run folders there; --runs-dir picks another)", err)
	}
	var rows []runSummary
	for _, e := range es {
		if !e.IsDir() || strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if s, ok := summarize(filepath.Join(o.RunsDir, e.Name())); ok {
			rows = append(rows, s)
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return rows[i].Started > rows[j].Started })
	tw := tabwriter.NewWriter(o.f.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tKIND\tSTARTED\tTOP-1")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.Name, r.Status, r.Kind, r.Started, r.Top1)
	}
	return tw.Flush()
}

// runPath finds a run folder given as a path or a name under runsDir.
func (o *RunsOptions) runPath(name string) (string, error) {
	for _, p := range []string{name, filepath.Join(o.RunsDir, name)} {
		if _, err := os.Stat(filepath.Join(p, resolvedName)); err == nil {
			return p, nil
		}
	}
	return "", usageErrorf("%s is not a run folder (no %s; gozoo runs list shows them)", name, resolvedName)
}

func runsCompare(o *RunsOptions) error {
	a, err := o.runPath(o.A)
	if err != nil {
		return err
	}
	b, err := o.runPath(o.B)
	if err != nil {
		return err
	}
	ca, err := flatYAML(filepath.Join(a, resolvedName))
	if err != nil {
		return err
	}
	cb, err := flatYAML(filepath.Join(b, resolvedName))
	if err != nil {
		return err
	}
	w := o.f.Out
	fmt.Fprintf(w, "A %s\nB %s\n\nconfig differences:\n", a, b)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  KEY\tA\tB")
	n := 0
	for _, k := range unionKeys(ca, cb) {
		if ca[k] != cb[k] {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", k, orDash(ca[k]), orDash(cb[k]))
			n++
		}
	}
	tw.Flush()
	if n == 0 {
		fmt.Fprintln(w, "  none: the resolved configs are equal")
	}
	ma, _ := flatMetrics(a)
	mb, _ := flatMetrics(b)
	fmt.Fprintln(w, "\nmetrics:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  METRIC\tA\tB\tB-A")
	keys := map[string]bool{}
	for k := range ma {
		keys[k] = true
	}
	for k := range mb {
		keys[k] = true
	}
	var ks []string
	for k := range keys {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	for _, k := range ks {
		va, oka := ma[k]
		vb, okb := mb[k]
		diff := "-"
		if oka && okb {
			diff = fmt.Sprintf("%+.4g", vb-va)
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", k, num(va, oka), num(vb, okb), diff)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func num(v float64, ok bool) string {
	if !ok {
		return "-"
	}
	return fmt.Sprintf("%.4g", v)
}

func unionKeys(a, b map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range []map[string]string{a, b} {
		for k := range m {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	sort.Strings(out)
	return out
}

// flatYAML reads a YAML file as dotted key: value strings.
func flatYAML(path string) (map[string]string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(b, &v); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	out := map[string]string{}
	flatten("", v, func(k string, v any) {
		j, _ := json.Marshal(v)
		out[k] = string(j)
	})
	return out, nil
}

func flatten(prefix string, v any, emit func(string, any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			flatten(joinKey(prefix, k), e, emit)
		}
	default:
		emit(prefix, v)
	}
}

func joinKey(a, b string) string {
	if a == "" {
		return b
	}
	return a + "." + b
}

// flatMetrics reads a run folder's metrics.json numbers as dotted keys
// (lists left out).
func flatMetrics(dir string) (map[string]float64, error) {
	b, err := os.ReadFile(filepath.Join(dir, metricsName))
	if err != nil {
		return nil, err
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil, err
	}
	out := map[string]float64{}
	flatten("", v, func(k string, v any) {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	})
	return out, nil
}
