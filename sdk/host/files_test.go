//go:build unix

package host_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// manifestToy writes a manifest that runs the toy plugin as NAME with env.
func manifestToy(t *testing.T, name string, env map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	var kv []string
	for k, v := range env {
		kv = append(kv, fmt.Sprintf("%q: %q", k, v))
	}
	man := fmt.Sprintf(`{"command": [%q], "env": {%s}}`, toyBin, strings.Join(kv, ", "))
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-"+name+".plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// leftovers lists the files in the tensor folder other than the (at most
// two) input files kept for reuse.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(tensor folder) = %v", err)
	}
	var names []string
	spare := 0
	for _, e := range es {
		if strings.HasPrefix(e.Name(), "in-") && spare < 2 {
			spare++
			continue
		}
		names = append(names, e.Name())
	}
	return names
}

// TestSharedMemory runs the same extractions with the shared-memory path
// on, turned off by the host, and not offered by the plugin: the answers
// are identical, files are used only when both sides agree, and none is
// left behind.
func TestSharedMemory(t *testing.T) {
	ctx := context.Background()
	opts := map[string]string{"dim": "1024"}
	want, err := toyplugin.New().Load(ctx, &sdk.LoadRequest{Arch: "toy", Options: opts, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	big := rows(256, 1024) // 1 MiB: above the file threshold
	small := rows(8, 1024) // 32 KiB: inline
	tests := []struct {
		name     string
		plugin   string
		path     string
		opts     []host.Option
		in, out  int64 // tensors expected to pass as files: lin outputs and inputs of 256 KiB and more
		wantDir  bool
		requests []*sdk.ExtractRequest
	}{
		{"default", "toy", "", nil, 3, 2, true, []*sdk.ExtractRequest{
			{Layers: []string{"lin", "sum", "head"}, Input: big},
			{Layers: []string{"sum"}, Input: big},
			{Layers: []string{"lin"}, Input: small},
			{Layers: []string{"lin"}, Input: rows(64, 1024)}, // 256 KiB in, 256 KiB out
		}},
		{"host off", "toy", "", []host.Option{host.WithSharedMemory(false)}, 0, 0, false, []*sdk.ExtractRequest{
			{Layers: []string{"lin", "sum"}, Input: big},
		}},
		{"plugin off", "old", manifestToy(t, "old", map[string]string{"TOY_SHARED_MEMORY": "off"}), nil, 0, 0, true, []*sdk.ExtractRequest{
			{Layers: []string{"lin", "sum"}, Input: big},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := append([]host.Option{}, tt.opts...)
			if tt.path != "" {
				opts = append(opts, host.WithPluginPath(tt.path))
			}
			var c *host.Client
			if tt.path != "" {
				var err error
				if c, err = host.New(opts...); err != nil {
					t.Fatal(err)
				}
				defer c.Close()
			} else {
				c = newClient(t, opts...)
			}
			bb, err := c.Backbone(ctx, tt.plugin)
			if err != nil {
				t.Fatal(err)
			}
			m := load(t, bb, map[string]string{"dim": "1024"})
			for _, req := range tt.requests {
				got, err := m.Extract(ctx, req)
				if err != nil {
					t.Fatalf("Extract(%v, %v) = %v", req.Layers, req.Input.Shape, err)
				}
				w, err := want.Extract(ctx, req)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(got, w) {
					t.Errorf("Extract(%v, %v) through the plugin differs from in process", req.Layers, req.Input.Shape)
				}
			}
			dir, in, out := host.TensorFiles(c)
			if in != tt.in || out != tt.out {
				t.Errorf("tensors passed as files: %d in, %d out; want %d, %d", in, out, tt.in, tt.out)
			}
			if (dir != "") != tt.wantDir {
				t.Fatalf("tensor folder %q; want one: %v", dir, tt.wantDir)
			}
			if dir == "" {
				return
			}
			if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
				t.Errorf("tensor folder %s mode %v, %v; want 0700", dir, st.Mode(), err)
			}
			if _, err := os.Stat("/dev/shm"); err == nil && !strings.HasPrefix(dir, "/dev/shm/") {
				t.Errorf("tensor folder %s is not under /dev/shm", dir)
			}
			if left := leftovers(t, dir); len(left) != 0 {
				t.Errorf("files left in the tensor folder after the calls: %v", left)
			}
			if err := c.Close(); err != nil {
				t.Errorf("Close() = %v", err)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("tensor folder %s after Close: %v; want it removed", dir, err)
			}
		})
	}
}

// TestCrashRecoveryFiles kills the plugin with SIGKILL while it works on
// an input it read from a file; the host restarts it, probes the new
// process, and the repeated call reads the same input file. Every row
// comes back and no file is left.
func TestCrashRecoveryFiles(t *testing.T) {
	ctx := context.Background()
	var log strings.Builder
	var logMu sync.Mutex
	c := newClient(t, host.WithLogger(slog.New(slog.NewTextHandler(lockedWriter{&logMu, &log}, nil))))
	opts := map[string]string{"dim": "65536", "delay_ms": "150"}
	m := load(t, toy(t, c), opts)
	req := &sdk.ExtractRequest{Layers: []string{"lin", "sum", "head"}, Input: rows(12, 65536)} // 2 rows = 512 KiB a batch

	want, err := toyplugin.New().Load(ctx, &sdk.LoadRequest{Arch: "toy", Options: map[string]string{"dim": "65536"}, Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	wantOut, err := host.ExtractBatches(ctx, want, req, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	pid, err := c.PID("toy")
	if err != nil {
		t.Fatal(err)
	}
	var killed atomic.Bool
	got, err := host.ExtractBatches(ctx, m, req, 2, func(done, total int) {
		if done == 4 {
			go func() {
				time.Sleep(75 * time.Millisecond) // inside the next batch's 150 ms
				killed.Store(syscall.Kill(pid, syscall.SIGKILL) == nil)
			}()
		}
	})
	if err != nil {
		t.Fatalf("ExtractBatches() across a crash = %v", err)
	}
	if !killed.Load() {
		t.Fatalf("the plugin was not killed")
	}
	if !reflect.DeepEqual(got, wantOut) {
		t.Errorf("ExtractBatches() across a crash differs from an uninterrupted run")
	}
	logMu.Lock()
	if !strings.Contains(log.String(), "restarting plugin") {
		t.Errorf("the host did not restart the plugin inside a call; log:\n%s", log.String())
	}
	logMu.Unlock()
	dir, in, out := host.TensorFiles(c)
	// 6 batches, each input and lin output a file; the killed attempt's
	// output never came.
	if in != 6 || out != 6 {
		t.Errorf("tensors passed as files: %d in, %d out; want 6 and 6", in, out)
	}
	if left := leftovers(t, dir); len(left) != 0 {
		t.Errorf("files left in the tensor folder after the crash: %v", left)
	}
}

func TestSharedMemoryOption(t *testing.T) {
	tests := []struct {
		opts    []host.Option
		wantErr bool
	}{
		{[]host.Option{host.WithSharedMemory(true)}, false},
		{[]host.Option{host.WithSharedMemory(false), host.WithSharedMemory(false)}, false},
		{[]host.Option{host.WithSharedMemory(false), host.WithSharedMemory(true)}, true},
	}
	for i, tt := range tests {
		c, err := host.New(tt.opts...)
		if (err != nil) != tt.wantErr {
			t.Errorf("New(options #%d) = %v; want error %v", i, err, tt.wantErr)
		}
		c.Close()
	}
}
