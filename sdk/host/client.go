package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/gozoo/gozoo/sdk"
	"github.com/hashicorp/go-hclog"
	goplugin "github.com/hashicorp/go-plugin"
)

// ErrChecksum is returned when a plugin's file does not match its pinned
// sha256.
var ErrChecksum = errors.New("host: plugin checksum mismatch")

// ErrNotFound is returned when no plugin of a name is on the search path.
var ErrNotFound = errors.New("host: plugin not found")

// Client finds and runs backbone plugins. The caller must Close it, which
// stops every plugin process it started. It is safe for concurrent use.
type Client struct {
	cfg     config
	hlog    hclog.Logger
	mu      sync.Mutex
	procs   map[string]*proc
	closed  bool
	files   files          // the shared-memory folder for tensor files
	socks   sockets        // the private folder for plugin sockets
	cache   *describeCache // Describe answers and sha256s of plugin files
	stopped *stoppedPIDs   // plugin processes killed on purpose, not logged as crashes
	starts  atomic.Int64   // plugin processes started
	weights weightsDir     // checkpoints converted for plugins (weights.go)
}

// New returns a Client. It starts no process.
func New(opts ...Option) (*Client, error) {
	c := &Client{procs: map[string]*proc{}, stopped: &stoppedPIDs{}}
	c.cfg.maxRestarts = 2
	c.cfg.liveEvery, c.cfg.liveBound = defaultLiveEvery, defaultLiveBound
	for _, o := range opts {
		if err := o(&c.cfg); err != nil {
			return nil, err
		}
	}
	if !c.cfg.cacheSet {
		c.cfg.cacheDir = DefaultCacheDir()
	}
	c.cache = &describeCache{}
	if c.cfg.cacheDir != "" {
		c.cache.dir = filepath.Join(c.cfg.cacheDir, "plugins")
	}
	if !c.cfg.pathSet {
		c.cfg.path = DefaultPluginPath()
	}
	if c.cfg.logger != nil {
		c.hlog = hclog.FromStandardLogger(slog.NewLogLogger(c.cfg.logger.Handler(), slog.LevelInfo),
			&hclog.LoggerOptions{Name: "gozoo-host", Level: hclog.Info, Exclude: c.stopped.exclude})
	} else {
		c.hlog = hclog.New(&hclog.LoggerOptions{Name: "gozoo-host", Level: hclog.Warn, Output: os.Stderr, Exclude: c.stopped.exclude})
	}
	return c, nil
}

// Plugins lists the plugins on the search path, with their files' sha256,
// without starting any. A file whose size, times and inode match the
// cache's entry is not hashed again.
func (c *Client) Plugins() ([]PluginInfo, error) {
	infos, err := discover(c.cfg.path)
	if err != nil {
		return nil, err
	}
	for i := range infos {
		if _, err := c.identify(&infos[i]); err != nil {
			return nil, err
		}
	}
	return infos, nil
}

// find returns the plugin named name with its sha256, which every start
// of its process is checked against.
func (c *Client) find(name string) (PluginInfo, error) {
	infos, err := discover(c.cfg.path)
	if err != nil {
		return PluginInfo{}, err
	}
	for _, in := range infos {
		if in.Name == name {
			_, err := c.identify(&in)
			return in, err
		}
	}
	return PluginInfo{}, fmt.Errorf("%w: no %s%s or %s%s%s in %v: install the plugin there or set GOZOO_PLUGIN_PATH",
		ErrNotFound, Prefix, name, Prefix, name, ManifestExt, c.cfg.path)
}

// Backbone returns the plugin named name, starting its process (after
// checking a pinned checksum and the plugin's health) unless it already
// runs. The Backbone stays usable until the Client is closed.
func (c *Client) Backbone(ctx context.Context, name string) (sdk.Backbone, error) {
	p, err := c.proc(name)
	if err != nil {
		return nil, err
	}
	if _, _, err := p.conn(ctx); err != nil {
		return nil, err
	}
	return &backbone{p: p}, nil
}

func (c *Client) proc(name string) (*proc, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, fmt.Errorf("%w: host client is closed", sdk.ErrClosed)
	}
	if p := c.procs[name]; p != nil {
		return p, nil
	}
	info, err := c.find(name)
	if err != nil {
		return nil, err
	}
	p := &proc{c: c, info: info}
	c.procs[name] = p
	return p, nil
}

// PID returns the process id of the running plugin named name. It exists
// for tests and diagnostics (for example to kill a plugin and watch the
// host recover); it returns an error when the plugin is not running.
func (c *Client) PID(name string) (int, error) {
	c.mu.Lock()
	p := c.procs[name]
	c.mu.Unlock()
	if p == nil {
		return 0, fmt.Errorf("host: plugin %s was not started by this client", name)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gp == nil || p.gp.Exited() {
		return 0, fmt.Errorf("host: plugin %s is not running", name)
	}
	if p.pid == 0 {
		return 0, fmt.Errorf("host: plugin %s has no process id", name)
	}
	return p.pid, nil
}

// Starts returns how many plugin processes this Client has started,
// restarts included. It exists for tests and diagnostics, such as
// checking that finding an architecture started no plugin.
func (c *Client) Starts() int { return int(c.starts.Load()) }

// SocketDir returns the private folder (mode 0700) holding the Unix
// sockets of this Client's plugins, or "" before the first start. It
// exists for tests and diagnostics; Close removes it.
func (c *Client) SocketDir() string { return c.socks.root() }

// Close stops every plugin process this Client started and waits for them
// to exit. Models obtained from it fail with sdk.ErrClosed afterwards.
// Close is idempotent.
func (c *Client) Close() error {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	procs := c.procs
	c.procs = map[string]*proc{}
	c.closed = true
	c.mu.Unlock()
	var wg sync.WaitGroup
	for _, p := range procs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.close()
		}()
	}
	wg.Wait()
	return errors.Join(c.files.remove(), c.socks.remove(), c.weights.remove())
}

// Kill ends every plugin process this Client started at once, without
// asking them to exit or waiting, and removes the Client's folders. It is
// for a program that must exit now, such as on a second interrupt; Close
// is the orderly way, and is still safe to call afterwards. A plugin
// whose start is under way is left to die with its host.
func (c *Client) Kill() {
	if c == nil {
		return
	}
	c.mu.Lock()
	procs := make([]*proc, 0, len(c.procs))
	for _, p := range c.procs {
		procs = append(procs, p)
	}
	c.mu.Unlock()
	for _, p := range procs {
		if !p.mu.TryLock() {
			continue
		}
		if p.gp != nil && p.pid > 0 {
			if pr, err := os.FindProcess(p.pid); err == nil {
				c.stopped.mark(p.pid)
				pr.Kill()
			}
		}
		p.mu.Unlock()
	}
	c.socks.remove()
	c.files.remove()
}

// grpcPlugin is the host side of go-plugin's GRPCPlugin.
type grpcPlugin struct {
	goplugin.NetRPCUnsupportedPlugin
}
