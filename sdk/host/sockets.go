package host

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/sdk"
)

// sockets is a Client's private folder (mode 0700) for its plugins' Unix
// sockets: $XDG_RUNTIME_DIR/gozoo-plugins-PID-* when that folder is the
// user's own, else the same under the temporary folder. Every plugin
// process gets a folder of its own inside it (PLUGIN_UNIX_SOCKET_DIR), so
// no other user can reach a socket, and a plugin whose host died knows
// which socket to remove. Close removes the folder; folders of hosts that
// were killed are swept by the next host.
type sockets struct {
	mu     sync.Mutex
	base   string
	closed bool
}

// maxSocketDir leaves room in a socket path (108 bytes on Linux) for the
// file name go-plugin adds: /plugin and up to ten digits.
const maxSocketDir = 108 - len("/plugin") - 11

// dir makes a new folder for one plugin process's socket.
func (s *sockets) dir(plugin string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return "", fmt.Errorf("%w: host client is closed", sdk.ErrClosed)
	}
	if s.base == "" {
		root := socketRoot()
		sweepStale(root, backbonev1.SocketDirPrefix) // once per Client: a glob of one folder
		base, err := os.MkdirTemp(root, fmt.Sprintf("%s%d-", backbonev1.SocketDirPrefix, os.Getpid()))
		if err != nil {
			return "", fmt.Errorf("host: make a private folder for plugin sockets: %w (set TMPDIR to a writable folder)", err)
		}
		s.base = base
	}
	dir, err := os.MkdirTemp(s.base, plugin+"-")
	if err != nil {
		return "", fmt.Errorf("host: make a socket folder for plugin %s: %w", plugin, err)
	}
	if len(dir) > maxSocketDir {
		os.Remove(dir)
		return "", fmt.Errorf("host: socket folder %s is too long for a Unix socket path (at most %d bytes): set TMPDIR or XDG_RUNTIME_DIR to a shorter folder", dir, maxSocketDir)
	}
	return dir, nil
}

// root returns the folder holding the plugin folders, or "" when none was
// made yet.
func (s *sockets) root() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.base
}

// remove deletes the folder and anything left in it; no folder is made
// afterwards.
func (s *sockets) remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	base := s.base
	s.base = ""
	if base == "" {
		return nil
	}
	if err := os.RemoveAll(base); err != nil {
		return fmt.Errorf("host: remove the plugin socket folder %s: %w", base, err)
	}
	return nil
}

// socketRoot is $XDG_RUNTIME_DIR when it is a folder only its owner, this
// user, can enter; else the temporary folder.
func socketRoot() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" && filepath.IsAbs(d) {
		if st, err := os.Stat(d); err == nil && st.IsDir() && st.Mode().Perm()&0o077 == 0 && ownedByMe(st) {
			return d
		}
	}
	return os.TempDir()
}
