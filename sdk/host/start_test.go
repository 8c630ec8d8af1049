package host_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gozoo/gozoo/sdk/host"
)

// writePlugin writes an executable plugin file dir/gozoo-backbone-NAME.
func writePlugin(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, "gozoo-backbone-"+name)
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestStartErrorShowsStderr: a plugin that fails before its handshake
// has its last stderr lines in the error, whether it exits, prints
// garbage on stdout, or never answers.
func TestStartErrorShowsStderr(t *testing.T) {
	dir := t.TempDir()
	noise := strings.Repeat("import noise\n", 200)
	writePlugin(t, dir, "exits", "#!/bin/sh\necho 'starting' >&2\necho 'socket path too long: /very/long/path' >&2\nexit 3\n")
	writePlugin(t, dir, "garbage", "#!/bin/sh\necho 'ValueError: bad config' >&2\nsleep 0.1\necho 'not a handshake'\nexit 1\n")
	writePlugin(t, dir, "mute", "#!/bin/sh\necho 'loading a large library' >&2\nexec sleep 60\n")
	writePlugin(t, dir, "silent", "#!/bin/sh\nexit 1\n")
	if err := os.WriteFile(filepath.Join(dir, "noise.txt"), []byte(noise), 0o644); err != nil {
		t.Fatal(err)
	}
	manifest := `{"command": ["/bin/sh", "-c", "cat noise.txt >&2; printf 'Traceback (most recent call last):\\n  File \"x.py\", line 1\\nModuleNotFoundError: No module named torch\\n' >&2; exit 1"]}`
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-py.plugin"), []byte(manifest), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		want []string
		not  []string
	}{
		{"exits", []string{"exits", "exited before printing its handshake", "socket path too long: /very/long/path", "starting"}, []string{"This usually means"}},
		{"garbage", []string{`printed "not a handshake" on stdout`, "ValueError: bad config"}, []string{"This usually means"}},
		{"mute", []string{"loading a large library", "no handshake within its start timeout of 1s"}, nil},
		{"silent", []string{"printed nothing on stderr"}, nil},
		// The last 20 lines: the traceback's end, not its first noise.
		{"py", []string{"ModuleNotFoundError: No module named torch", "Traceback"}, []string{strings.Repeat("import noise\n", 18)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := host.New(host.WithPluginPath(dir), host.WithStartTimeout(time.Second), host.WithCacheDir(""))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_, err = c.Backbone(context.Background(), tc.name)
			if err == nil {
				t.Fatalf("Backbone(%s) started", tc.name)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Backbone(%s) = %v\nwant it to say %q", tc.name, err, w)
				}
			}
			for _, n := range tc.not {
				if strings.Contains(err.Error(), n) {
					t.Errorf("Backbone(%s) error holds more than the stderr tail:\n%v", tc.name, err)
				}
			}
			if len(err.Error()) > 3<<10 {
				t.Errorf("Backbone(%s) error is %d bytes; want the tail only", tc.name, len(err.Error()))
			}
		})
	}
}

// TestFailedStartCached: a plugin that never completes its handshake
// costs the start timeout once; later discovery skips it at once, with a
// warning naming it, its path and the reason, until its file changes,
// while asking for it by name still tries it.
func TestFailedStartCached(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	mute := writePlugin(t, dir, "mute", "#!/bin/sh\necho 'waiting for a GPU that is not there' >&2\nexec sleep 60\n")
	copyFile(t, toyBin, filepath.Join(dir, "gozoo-backbone-toy"), nil)
	const timeout = 1500 * time.Millisecond
	newHost := func(log *bytes.Buffer) *host.Client {
		t.Helper()
		c, err := host.New(host.WithPluginPath(dir), host.WithCacheDir(cache), host.WithStartTimeout(timeout),
			host.WithLogger(slog.New(slog.NewTextHandler(log, nil))))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	muteOf := func(all []host.Described) host.Described {
		t.Helper()
		for _, d := range all {
			if d.Name == "mute" {
				return d
			}
		}
		t.Fatalf("DescribeAll = %+v; want the mute plugin in it", all)
		return host.Described{}
	}

	var log1 bytes.Buffer
	c1 := newHost(&log1)
	start := time.Now()
	all, err := c1.DescribeAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < timeout {
		t.Errorf("first discovery took %v; want the start timeout %v spent on the mute plugin", d, timeout)
	}
	if m := muteOf(all); m.Err == nil || errors.Is(m.Err, host.ErrSkipped) || !strings.Contains(m.Err.Error(), "waiting for a GPU") {
		t.Errorf("first discovery: mute plugin error %v; want its start failure with its stderr", m.Err)
	}
	if got := c1.Starts(); got != 2 {
		t.Errorf("first discovery started %d processes; want 2 (toy and mute)", got)
	}
	c1.Close()

	var log2 bytes.Buffer
	c2 := newHost(&log2)
	start = time.Now()
	all, err = c2.DescribeAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if got := c2.Starts(); got != 0 {
		t.Errorf("second discovery started %d processes; want none", got)
	}
	if took > timeout/2 {
		t.Errorf("second discovery took %v; want it to skip the mute plugin at once", took)
	}
	m := muteOf(all)
	if !errors.Is(m.Err, host.ErrSkipped) || !strings.Contains(m.Err.Error(), "waiting for a GPU") || !strings.Contains(m.Err.Error(), mute) {
		t.Errorf("second discovery: mute plugin error %v; want ErrSkipped naming its path and why", m.Err)
	}
	warn := log2.String()
	if n := strings.Count(warn, "skipping a plugin"); n != 1 || !strings.Contains(warn, "mute") || !strings.Contains(warn, mute) || !strings.Contains(warn, "waiting for a GPU") {
		t.Errorf("second discovery logged %q; want one warning naming the plugin, its path and the reason", warn)
	}
	if offers, err := c2.Offering(context.Background(), "toy"); err != nil || len(offers) != 1 || offers[0].Name != "toy" {
		t.Errorf("Offering(toy) = %+v, %v; want the toy plugin", offers, err)
	}

	// Asked for by name, it is tried again, and the real error comes back.
	if _, err := c2.Describe(context.Background(), "mute"); err == nil || errors.Is(err, host.ErrSkipped) || !strings.Contains(err.Error(), "waiting for a GPU") {
		t.Errorf("Describe(mute) = %v; want a fresh start failure", err)
	}
	if got := c2.Starts(); got != 1 {
		t.Errorf("Describe(mute) by name started %d processes; want 1", got)
	}
	c2.Close()

	// A changed file is tried again.
	writePlugin(t, dir, "mute", "#!/bin/sh\necho 'still waiting' >&2\nexec sleep 60\n")
	var log3 bytes.Buffer
	c3 := newHost(&log3)
	all, err = c3.DescribeAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m := muteOf(all); m.Err == nil || errors.Is(m.Err, host.ErrSkipped) || !strings.Contains(m.Err.Error(), "still waiting") {
		t.Errorf("after a change: mute plugin error %v; want a fresh start failure", m.Err)
	}
	if got := c3.Starts(); got != 1 {
		t.Errorf("discovery after the change started %d processes; want 1 (mute)", got)
	}
	c3.Close()

	// Once the skip has expired, discovery tries it again: a start that
	// timed out on a busy machine does not hide the plugin for good.
	host.SetFailureRetry(t, 0)
	var log4 bytes.Buffer
	c4 := newHost(&log4)
	all, err = c4.DescribeAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m := muteOf(all); m.Err == nil || errors.Is(m.Err, host.ErrSkipped) {
		t.Errorf("after the skip expired: mute plugin error %v; want a fresh start failure", m.Err)
	}
	if got := c4.Starts(); got != 1 {
		t.Errorf("discovery after the skip expired started %d processes; want 1 (mute)", got)
	}
}
