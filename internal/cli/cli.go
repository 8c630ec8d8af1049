package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gozoo/gozoo/sdk/host"
	"github.com/spf13/cobra"
)

// Factory holds what commands share: output streams and a lazily created
// plugin host. Tests build one over buffers.
type Factory struct {
	Out, Err io.Writer
	// PluginPath, when non-empty, replaces the default plugin search path.
	PluginPath []string

	mu   sync.Mutex // guards host: an interrupt kills it from another goroutine
	host *host.Client
	// grace, when set, replaces stopGrace (nanoseconds): a draining
	// server needs its --drain-timeout.
	grace atomic.Int64
}

// Host returns the factory's plugin host, creating it on first use. The
// caller must not Close it; Main closes it when the command ends.
func (f *Factory) Host() (*host.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
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
	f.mu.Lock()
	h := f.host
	f.host = nil
	f.mu.Unlock()
	if h == nil {
		return nil
	}
	return h.Close()
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
		NewCmdEval(f, nil),
		NewCmdQuantize(f, nil),
		NewCmdBridge(f),
		NewCmdDoctor(f, nil),
		NewCmdServe(f, nil),
		NewCmdRun(f, nil),
		NewCmdRuns(f, nil),
		NewCmdFeatures(f, nil),
		NewCmdVersion(f, nil),
	)
	addVersionFlag(root, f)
	return root
}

// stopGrace is how long an interrupted command has to end and stop its
// plugins before Main kills them and exits; the whole stays under 2 s.
const stopGrace = 1500 * time.Millisecond

// Main runs gozoo with os.Args and returns the process exit code: 0 on
// success, 1 on failure, 2 on a usage error, 130 (SIGINT) or 143
// (SIGTERM) when a signal cut the command short. The first SIGINT or
// SIGTERM cancels the command's context, so every plugin call ends; if
// the command and its plugins have not ended within stopGrace (unless
// the command drains, as gozoo serve does), or a second signal comes,
// the plugins are killed and gozoo exits at once. A command that ends
// without error after the signal (a finished drain) exits 0.
func Main() int {
	f := &Factory{Out: os.Stdout, Err: os.Stderr}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	done := make(chan struct{})
	var got atomic.Value // the first signal
	go func() {
		var s os.Signal
		select {
		case s = <-sigs:
		case <-done:
			return
		}
		got.Store(s)
		fmt.Fprintf(f.Err, "gozoo: %v: stopping (again to stop at once)\n", s)
		cancel()
		select {
		case <-sigs:
		case <-time.After(f.stopGrace()):
		case <-done:
			return
		}
		f.kill()
		os.Exit(exitCode(s))
	}()
	err := NewRootCmd(f).ExecuteContext(ctx)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	close(done)
	if s, ok := got.Load().(os.Signal); ok && err != nil {
		fmt.Fprintf(f.Err, "gozoo: stopped by %v\n", s)
		return exitCode(s)
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

// exitCode is the shell's code for a process ended by s: 128 + s.
func exitCode(s os.Signal) int {
	if n, ok := s.(syscall.Signal); ok {
		return 128 + int(n)
	}
	return 1
}

// stopGrace is how long the running command may take to end after an
// interrupt.
func (f *Factory) stopGrace() time.Duration {
	if g := f.grace.Load(); g > 0 {
		return time.Duration(g)
	}
	return stopGrace
}

// kill ends the factory's plugins at once (see host.Client.Kill).
func (f *Factory) kill() {
	f.mu.Lock()
	h := f.host
	f.mu.Unlock()
	if h != nil {
		h.Kill()
	}
}
