package host

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
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
	startWait   time.Duration
	noFiles     bool // WithSharedMemory(false)
	filesSet    bool
}

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
// handshake (default 1 minute).
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
