package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gozoo/gozoo/sdk/host"
	"github.com/spf13/cobra"
)

// Factory holds what commands share: output streams and a lazily created
// plugin host. Tests build one over buffers.
type Factory struct {
	Out, Err io.Writer
	// PluginPath, when non-empty, replaces the default plugin search path.
	PluginPath []string

	host *host.Client
}

// Host returns the factory's plugin host, creating it on first use. The
// caller must not Close it; Main closes it when the command ends.
func (f *Factory) Host() (*host.Client, error) {
	if f.host != nil {
		return f.host, nil
	}
	var opts []host.Option
	if len(f.PluginPath) > 0 {
		opts = append(opts, host.WithPluginPath(f.PluginPath...))
	}
	h, err := host.New(opts...)
	if err != nil {
		return nil, err
	}
	f.host = h
	return h, nil
}

// Close stops every plugin the factory started.
func (f *Factory) Close() error {
	if f.host == nil {
		return nil
	}
	err := f.host.Close()
	f.host = nil
	return err
}

// errUsage marks errors that are the user's invocation, for exit code 2.
var errUsage = errors.New("usage")

func usageErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errUsage, fmt.Sprintf(format, args...))
}

// NewRootCmd returns the gozoo command with every subcommand.
func NewRootCmd(f *Factory) *cobra.Command {
	root := &cobra.Command{
		Use:   "gozoo",
		Short: "Pretrained PyTorch backbones in Go: feature extraction over plugins and ONNX Runtime",
		Long: `gozoo runs PyTorch backbones (ResNet and others) as plugins on ONNX Runtime,
lists their layers by PyTorch module name and extracts any set of them in one
forward pass. Plugins are found on GOZOO_PLUGIN_PATH and in plugins/ beside
the gozoo binary.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(f.Out)
	root.SetErr(f.Err)
	root.PersistentFlags().StringSliceVar(&f.PluginPath, "plugin-path", nil,
		"folders to search for gozoo-backbone-* plugins (default: $GOZOO_PLUGIN_PATH, then plugins/ beside gozoo)")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return fmt.Errorf("%w: %v", errUsage, err) })
	root.AddCommand(
		NewCmdPlugins(f, nil),
		NewCmdLayers(f, nil),
		NewCmdParams(f, nil),
		NewCmdExtract(f, nil),
		NewCmdZoo(f, nil),
		NewCmdFinetune(f, nil),
		NewCmdBridge(f),
		NewCmdDoctor(f, nil),
		NewCmdRun(f, nil),
		NewCmdRuns(f, nil),
	)
	return root
}

// Main runs gozoo with os.Args and returns the process exit code: 0 on
// success, 1 on failure, 2 on a usage error.
func Main() int {
	f := &Factory{Out: os.Stdout, Err: os.Stderr}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := NewRootCmd(f).ExecuteContext(ctx)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		return 0
	}
	fmt.Fprintln(f.Err, "gozoo:", err)
	if errors.Is(err, errUsage) {
		return 2
	}
	return 1
}
