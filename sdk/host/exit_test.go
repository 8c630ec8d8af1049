package host_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// TestCloseGraceful: a plugin that takes a while to exit after the host
// asks it to (as an interpreter tidying up does) is let exit, not
// killed, so a normal run logs no error for it.
func TestCloseGraceful(t *testing.T) {
	t.Setenv("TOY_EXIT_DELAY_MS", "1000")
	var log bytes.Buffer
	c, err := host.New(host.WithPluginPath(filepath.Dir(toyBin)), host.WithLogger(slog.New(slog.NewTextHandler(&log, nil))))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m := load(t, toy(t, c), nil)
	if _, err := m.Extract(context.Background(), &sdk.ExtractRequest{Layers: []string{"sum"}, Input: rows(2, 4)}); err != nil {
		t.Fatal(err)
	}
	pid, err := c.PID("toy")
	if err != nil {
		t.Fatal(err)
	}
	m.Close()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !gone(pid, 0) {
		t.Errorf("plugin %d still runs after Close", pid)
	}
	out := log.String()
	if !strings.Contains(out, "plugin process exited") {
		t.Fatalf("the host logged no plugin exit:\n%s", out)
	}
	for _, bad := range []string{"[ERROR]", "killed", "failed to exit gracefully"} {
		if strings.Contains(out, bad) {
			t.Errorf("a normal Close logged %q:\n%s", bad, out)
		}
	}
}
