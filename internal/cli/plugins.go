package cli

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// PluginsOptions configures gozoo plugins.
type PluginsOptions struct {
	f *Factory
}

// NewCmdPlugins returns `gozoo plugins`. runF replaces the command's
// action in tests; nil runs it.
func NewCmdPlugins(f *Factory, runF func(context.Context, *PluginsOptions) error) *cobra.Command {
	opts := &PluginsOptions{f: f}
	return &cobra.Command{
		Use:   "plugins",
		Short: "List backbone plugins: name, version, architectures, sha256",
		Long: `List backbone plugins: name, version, architectures, sha256.

Plugins' answers are cached per plugin file (path, size, times, sha256) in
$GOZOO_CACHE/plugins (default ~/.cache/gozoo/plugins); a plugin is started
only when its file is new or changed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runPlugins(cmd.Context(), opts)
		},
	}
}

func runPlugins(ctx context.Context, opts *PluginsOptions) error {
	h, err := opts.f.Host()
	if err != nil {
		return err
	}
	all, err := h.DescribeAll(ctx)
	if err != nil {
		return err
	}
	if len(all) == 0 {
		return fmt.Errorf("no gozoo-backbone-* plugins found: run make build, or set GOZOO_PLUGIN_PATH or --plugin-path")
	}
	tw := tabwriter.NewWriter(opts.f.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSION\tARCHS\tSHA256\tPATH")
	var failed []string
	for _, d := range all {
		version, archs := "?", "?"
		if d.Err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", d.Name, d.Err))
		} else {
			version = d.Description.Version
			names := make([]string, len(d.Description.Archs))
			for i, a := range d.Description.Archs {
				names[i] = a.Name
			}
			archs = strings.Join(names, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.Name, version, archs, d.SHA256, d.Path)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("some plugins did not start:\n  %s", strings.Join(failed, "\n  "))
	}
	return nil
}
