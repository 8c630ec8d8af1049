package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/sdk"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
)

// Handshake is the go-plugin handshake every gozoo backbone plugin and host
// use. Its ProtocolVersion is the protocol's major version; the minor
// version is sdk.ProtocolMinor, reported by Describe.
var Handshake = backbonev1.Handshake

// Option configures Serve.
type Option func(*config) error

type config struct {
	name     string
	logLevel hclog.Level
	logOut   io.Writer
	noFiles  bool
}

// WithName sets the plugin name used in error messages (for example
// "train is not a capability of plugin resnet"). By default Serve asks the
// backbone's Describe.
func WithName(name string) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("plugin: WithName: empty name")
		}
		c.name = name
		return nil
	}
}

// WithLogLevel sets the level of the plugin's own log ("trace", "debug",
// "info", "warn", "error"); the host relays it. The default is "warn".
func WithLogLevel(level string) Option {
	return func(c *config) error {
		l := hclog.LevelFromString(level)
		if l == hclog.NoLevel {
			return fmt.Errorf("plugin: WithLogLevel(%q): use trace, debug, info, warn or error", level)
		}
		c.logLevel = l
		return nil
	}
}

// WithSharedMemory turns the shared-memory tensor path on (the default) or
// off. When on, and a host on the same machine shows (by a probe file in
// its private folder) that both sides see the same files, large tensors
// travel as files in that folder, typically on /dev/shm, instead of
// through gRPC; hosts that do not ask, and plugins with it off, stream
// tensors in chunks. Turn it off for a plugin whose files the host must
// not see, such as one relaying to another machine's file system.
func WithSharedMemory(on bool) Option {
	return func(c *config) error {
		c.noFiles = !on
		return nil
	}
}

// Main serves impl with Serve and exits: with status 1 and the error on
// standard error when Serve fails (for a binary run by hand, a hint to run
// gozoo instead), else 0. It is the whole main function of most plugins:
//
//	func main() { plugin.Main(mybackbone.New()) }
func Main(impl sdk.Backbone, opts ...Option) {
	if err := Serve(impl, opts...); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// ErrNoHost reports a plugin binary run by hand: no gozoo host started it.
var ErrNoHost = errors.New("plugin: not started by a gozoo host")

// Serve serves impl as a gozoo backbone plugin on the go-plugin protocol and
// returns nil when the host closes it. It listens on a Unix socket in the
// folder the host names ($PLUGIN_UNIX_SOCKET_DIR, private to the host's
// user) and requires the host's certificate (go-plugin's automatic mutual
// TLS). A plugin binary's main usually calls it through Main.
//
// Serve returns an error, before serving anything, for an invalid option
// and, wrapping ErrNoHost with a hint, when the binary was run by hand
// rather than by a host. While it serves, the process exits, removing its
// socket, as soon as its host ends, even when the host is killed: on Linux
// by the parent-death signal, elsewhere by a watch on the parent process.
func Serve(impl sdk.Backbone, opts ...Option) error {
	cfg := &config{logLevel: hclog.Warn, logOut: os.Stderr}
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return err
		}
	}
	if impl == nil {
		return errors.New("plugin: Serve: nil backbone")
	}
	if os.Getenv(Handshake.MagicCookieKey) != Handshake.MagicCookieValue {
		return fmt.Errorf("%w: %s is a gozoo backbone plugin, which gozoo starts itself when a model needs it: run gozoo instead (gozoo plugins lists the plugins it finds)",
			ErrNoHost, filepath.Base(os.Args[0]))
	}
	guardParent(os.Exit)
	goplugin.Serve(&goplugin.ServeConfig{
		HandshakeConfig: Handshake,
		Plugins:         goplugin.PluginSet{backbonev1.PluginName: &grpcPlugin{impl: impl, cfg: cfg}},
		GRPCServer: func(o []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(o, ServerOptions()...)...)
		},
		Logger: hclog.New(&hclog.LoggerOptions{Level: cfg.logLevel, Output: cfg.logOut, JSONFormat: true}),
	})
	return nil
}

// ServerOptions are the gRPC server options a backbone server needs: raised
// message size limits.
func ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.MaxRecvMsgSize(backbonev1.MaxMessageBytes),
		grpc.MaxSendMsgSize(backbonev1.MaxMessageBytes),
		grpc.InitialWindowSize(backbonev1.WindowBytes),
		grpc.InitialConnWindowSize(backbonev1.WindowBytes),
	}
}

// grpcPlugin is the plugin side of go-plugin's GRPCPlugin.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
	impl sdk.Backbone
	cfg  *config
}

func (p *grpcPlugin) GRPCServer(_ *goplugin.GRPCBroker, s *grpc.Server) error {
	return register(s, p.impl, p.cfg)
}

func (p *grpcPlugin) GRPCClient(context.Context, *goplugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, fmt.Errorf("plugin: the plugin side has no client; use sdk/host")
}
