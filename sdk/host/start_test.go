package host_test

import (
	"context"
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
		{"exits", []string{"exits", "socket path too long: /very/long/path", "starting"}, nil},
		{"garbage", []string{"ValueError: bad config"}, nil},
		{"mute", []string{"loading a large library", "timeout"}, nil},
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
