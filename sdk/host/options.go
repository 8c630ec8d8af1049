package host

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Option configures New.
type Option func(*config) error

type config struct {
	path        []string
	pathSet     bool
	checksums   map[string]string
	logger      *slog.Logger
	maxRestarts int
	startWait   time.Duration // 0: the defaults below
	noFiles     bool          // WithSharedMemory(false)
	filesSet    bool
	liveEvery   time.Duration // health check period while a call runs; 0: off
	liveBound   time.Duration // no answer for this long: the plugin is killed
	cacheDir    string        // Describe cache folder; "" disables the cache
	cacheSet    bool
}

// Defaults of the options below.
const (
	defaultStartTimeout = 10 * time.Second
	// Manifest plugins are interpreters importing large libraries before
	// they answer (the torch plugin: 5 s to import torch on a busy
	// 2-core machine).
	defaultManifestStartTimeout = 30 * time.Second
	defaultLiveEvery            = 2 * time.Second
	defaultLiveBound            = 10 * time.Second
)

// WithPluginPath replaces the plugin search path (DefaultPluginPath) with
// dirs, searched in order.
func WithPluginPath(dirs ...string) Option {
	return func(c *config) error {
		if c.pathSet {
			return errors.New("host: WithPluginPath given twice: pass every folder in one call")
		}
		c.path, c.pathSet = append([]string(nil), dirs...), true
		return nil
	}
}

// WithChecksums pins plugins by name to the hex sha256 of their executable
// (or manifest file). A pinned plugin whose file differs is refused.
func WithChecksums(sums map[string]string) Option {
	return func(c *config) error {
		if c.checksums == nil {
			c.checksums = map[string]string{}
		}
		for name, sum := range sums {
			sum = strings.ToLower(sum)
			if b, err := hex.DecodeString(sum); err != nil || len(b) != 32 {
				return fmt.Errorf("host: WithChecksums: %q for plugin %s is not a hex sha256 (64 hex digits); compute it with sha256sum", sum, name)
			}
			if old, ok := c.checksums[name]; ok && old != sum {
				return fmt.Errorf("host: WithChecksums: plugin %s pinned to two checksums", name)
			}
			c.checksums[name] = sum
		}
		return nil
	}
}

// WithLogger sends host and plugin log lines to l. By default warnings and
// errors go to standard error.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) error {
		if l == nil {
			return errors.New("host: WithLogger: nil logger")
		}
		c.logger = l
		return nil
	}
}

// WithMaxRestarts bounds how many times one call restarts a crashed plugin
// before it fails with sdk.ErrPluginCrashed (default 2; 0 disables crash
// recovery).
func WithMaxRestarts(n int) Option {
	return func(c *config) error {
		if n < 0 {
			return fmt.Errorf("host: WithMaxRestarts(%d): want 0 or more", n)
		}
		c.maxRestarts = n
		return nil
	}
}

// WithStartTimeout bounds how long a plugin may take to print its
// handshake and answer its first health check (default 10 s for
// executables, 30 s for manifest plugins, whose interpreters import large
// libraries first). A plugin that takes longer is killed and the call
// fails.
func WithStartTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("host: WithStartTimeout(%v): want a positive duration", d)
		}
		c.startWait = d
		return nil
	}
}

// WithSharedMemory turns the shared-memory tensor path on (the default) or
// off. When on, and a plugin shows that it sees the host's files (Go
// plugins built with sdk/plugin do; the Python plugin and plugins on
// another file system do not), Extract passes tensors of 256 KiB and more
// as files in a private folder (mode 0700) under /dev/shm, or the system's
// temporary folder where /dev/shm is missing, instead of streaming them
// through gRPC. Output files are removed as soon as they are read; up to
// two input files of at most 64 MiB are kept for reuse (rewriting a file
// is much cheaper than filling a new one); the folder goes when the Client
// closes. Off, every tensor streams.
func WithSharedMemory(on bool) Option {
	return func(c *config) error {
		if c.filesSet && c.noFiles == on {
			return fmt.Errorf("host: WithSharedMemory given twice, with %v and %v: pass it once", !on, on)
		}
		c.noFiles, c.filesSet = !on, true
		return nil
	}
}

// WithLiveness sets how a running call checks that its plugin still
// answers: every interval the host sends a gRPC health check (each with
// interval as its deadline), and when none has been answered for bound
// the plugin process is killed and the call fails with an error wrapping
// ErrUnresponsive and sdk.ErrPluginCrashed; the next call starts the
// plugin again. The default is every 2 s with a bound of 10 s. A plugin
// that is busy still answers: health checks are served beside the
// calls. WithLiveness(0, 0) turns the checks off.
func WithLiveness(interval, bound time.Duration) Option {
	return func(c *config) error {
		switch {
		case interval == 0 && bound == 0:
		case interval <= 0 || bound <= 0:
			return fmt.Errorf("host: WithLiveness(%v, %v): want two positive durations, or 0, 0 to turn the checks off", interval, bound)
		case bound < interval:
			return fmt.Errorf("host: WithLiveness(%v, %v): the bound must be at least one interval", interval, bound)
		}
		c.liveEvery, c.liveBound = interval, bound
		return nil
	}
}

// WithCacheDir sets the folder whose plugins/ subfolder caches plugins'
// Describe answers, keyed by each plugin file's path, size, times and
// sha256, so that finding which plugin offers an architecture starts no
// plugin, and plugins whose start failed, so that discovery skips them
// until their file changes. The default is $GOZOO_CACHE, or gozoo/ under
// the user's cache folder (~/.cache/gozoo). An empty dir turns the cache
// off.
func WithCacheDir(dir string) Option {
	return func(c *config) error {
		if c.cacheSet {
			return errors.New("host: WithCacheDir given twice: pass it once")
		}
		c.cacheDir, c.cacheSet = dir, true
		return nil
	}
}

// DefaultCacheDir returns $GOZOO_CACHE, or gozoo/ under the user's cache
// folder (~/.cache/gozoo), or gozoo-cache/ under the temporary folder when
// there is no home.
func DefaultCacheDir() string {
	if d := os.Getenv("GOZOO_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil && d != "" {
		return filepath.Join(d, "gozoo")
	}
	return filepath.Join(os.TempDir(), "gozoo-cache")
}

// startTimeout is the start bound for a plugin (see WithStartTimeout).
func (c *config) startTimeout(manifest bool) time.Duration {
	switch {
	case c.startWait > 0:
		return c.startWait
	case manifest:
		return defaultManifestStartTimeout
	}
	return defaultStartTimeout
}
