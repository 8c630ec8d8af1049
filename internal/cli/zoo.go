package cli

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// ZooOptions configures gozoo zoo list|show|pull.
type ZooOptions struct {
	f        *Factory
	Catalogs []string
	Offline  bool
	Names    []string
}

// NewCmdZoo returns `gozoo zoo` with its list, show and pull subcommands.
// runF, when non-nil, replaces each subcommand's run (for tests); its
// first argument is the subcommand's name.
func NewCmdZoo(f *Factory, runF func(context.Context, string, *ZooOptions) error) *cobra.Command {
	opts := &ZooOptions{f: f}
	cmd := &cobra.Command{
		Use:   "zoo",
		Short: "The model catalog: list, show and pull named models",
		Long: `The catalog names models such as resnet50.tv_in1k: plugin, arch, weights
(URL with checksum), preprocessing and default feature layer. It is embedded
in gozoo and merged with ~/.config/gozoo/zoo.yaml and --catalog files.
Weights are cached in $GOZOO_CACHE or ~/.cache/gozoo (weights/).`,
	}
	cmd.PersistentFlags().StringSliceVar(&opts.Catalogs, "catalog", nil, "extra catalog YAML files, merged after the embedded one and ~/.config/gozoo/zoo.yaml")
	cmd.PersistentFlags().BoolVar(&opts.Offline, "offline", os.Getenv("GOZOO_OFFLINE") == "1", "never download (default $GOZOO_OFFLINE=1)")
	run := func(name string, fn func(context.Context, *ZooOptions) error) func(*cobra.Command, []string) error {
		return func(c *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(c.Context(), name, opts)
			}
			return fn(c.Context(), opts)
		}
	}
	cmd.AddCommand(
		&cobra.Command{Use: "list", Short: "List the catalog's models", Args: cobra.NoArgs, RunE: run("list", runZooList)},
		&cobra.Command{Use: "show NAME", Short: "Print a model's catalog entry (YAML)", Args: cobra.ExactArgs(1), RunE: run("show", runZooShow)},
		&cobra.Command{Use: "pull NAME...", Short: "Download and verify models' weights into the cache", Args: cobra.MinimumNArgs(1), RunE: run("pull", runZooPull)},
	)
	return cmd
}

func runZooList(ctx context.Context, o *ZooOptions) error {
	cat, err := loadCatalog(o.Catalogs)
	if err != nil {
		return err
	}
	cache, err := openCache(o.f.Err, true)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(o.f.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tPLUGIN\tARCH\tLAYER\tINPUT\tMETRICS\tCACHED")
	for _, e := range cat.Entries() {
		var ms []string
		for k, v := range e.Metrics {
			ms = append(ms, fmt.Sprintf("%s=%g", k, v))
		}
		sort.Strings(ms)
		cached := "no"
		if e.Weights.Embedded != "" {
			cached = "embedded"
		} else if cache.Cached(e) {
			cached = "yes"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%s\t%s\n", e.Name, e.Plugin, e.Arch, e.Layer, []int(e.Preprocess.Crop), strings.Join(ms, ","), cached)
	}
	return tw.Flush()
}

func runZooShow(ctx context.Context, o *ZooOptions) error {
	cat, err := loadCatalog(o.Catalogs)
	if err != nil {
		return err
	}
	e, err := cat.Lookup(o.Names[0])
	if err != nil {
		return err
	}
	b, err := e.Marshal()
	if err != nil {
		return err
	}
	fmt.Fprintf(o.f.Out, "# from %s\n%s", e.Source, b)
	if classes, err := e.ClassNames(); err == nil && len(classes) > 0 && e.ClassSet != "" {
		fmt.Fprintf(o.f.Out, "# %s: %d classes: %s\n", e.ClassSet, len(classes), fewNames(classes, 5))
	}
	return nil
}

func runZooPull(ctx context.Context, o *ZooOptions) error {
	cat, err := loadCatalog(o.Catalogs)
	if err != nil {
		return err
	}
	cache, err := openCache(o.f.Err, o.Offline)
	if err != nil {
		return err
	}
	for _, n := range o.Names {
		e, err := cat.Lookup(n)
		if err != nil {
			return err
		}
		path, err := cache.Fetch(ctx, e)
		if err != nil {
			return err
		}
		fmt.Fprintf(o.f.Out, "%s\t%s\n", e.Name, path)
	}
	return nil
}
