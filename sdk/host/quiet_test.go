package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/sdk/host"
)

// TestStopLogsNoCrash checks that a plugin the host kills on purpose,
// because it did not exit within the grace after Close asked it to, is
// not logged as a crash ("plugin process exited ... signal: killed", which
// a user of gozoo sees on stderr), while a plugin killed by someone else
// still is.
func TestStopLogsNoCrash(t *testing.T) {
	dir := t.TempDir()
	// The toy plugin serves; once it has exited on the host's request the
	// process stays 5 s more, past the host's grace.
	man := fmt.Sprintf(`{"command": ["/bin/sh", "-c", "%s; exec sleep 5"]}`, toyBin)
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-slowexit.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		outside bool // killed by another process, not by the host
		logged  bool
	}{
		{name: "host kills a slow exit", outside: false, logged: false},
		{name: "killed from outside", outside: true, logged: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mu sync.Mutex
			var log strings.Builder
			c, err := host.New(host.WithPluginPath(dir),
				host.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&mu, &log}, nil))))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			bb, err := c.Backbone(context.Background(), "slowexit")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := bb.Describe(context.Background()); err != nil {
				t.Fatal(err)
			}
			pid, err := c.PID("slowexit")
			if err != nil {
				t.Fatal(err)
			}
			if tc.outside {
				syscall.Kill(pid, syscall.SIGKILL)
				time.Sleep(300 * time.Millisecond) // go-plugin logs the exit
			}
			start := time.Now()
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if d := time.Since(start); !tc.outside && d < 400*time.Millisecond {
				t.Fatalf("Close took %v: the plugin exited within the grace, so the host killed nothing", d)
			}
			if syscall.Kill(pid, 0) == nil {
				t.Errorf("process %d still runs after Close", pid)
			}
			time.Sleep(100 * time.Millisecond) // go-plugin logs from its own goroutine
			mu.Lock()
			got := strings.Contains(log.String(), "signal: killed")
			text := log.String()
			mu.Unlock()
			if got != tc.logged {
				t.Errorf("log mentions the kill: %v; want %v; log:\n%s", got, tc.logged, text)
			}
		})
	}
}
