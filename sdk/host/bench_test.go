//go:build unix

package host_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// BenchmarkStart measures starting the toy plugin: process start, go-plugin
// handshake with automatic mTLS, health check, then stopping it.
func BenchmarkStart(b *testing.B) {
	for b.Loop() {
		c, err := host.New(host.WithPluginPath(filepath.Dir(toyBin)))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := c.Backbone(context.Background(), "toy"); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		c.Close()
		b.StartTimer()
	}
}

// BenchmarkExtract compares one Extract through the plugin with the same
// call in process: the "lin" layer (output as big as the input) of 1 MB
// and 64 MB, and the "sum" layer (output 32 bytes) of a 4.8 MB input, the
// size of a batch of 8 RGB images at 224x224, which isolates the cost of
// moving the input. GOZOO_BENCH_SHARED_MEMORY=off makes the plugin
// stream every tensor, for comparison.
//
// Besides ns/op each case reports cpu-ns/op, the CPU time this process
// and (for the plugin cases) the plugin process spent per call, where
// /proc is readable.
func BenchmarkExtract(b *testing.B) {
	ctx := context.Background()
	c := newClient(b, host.WithSharedMemory(os.Getenv("GOZOO_BENCH_SHARED_MEMORY") != "off"))
	for _, size := range []struct {
		name  string
		rows  int64
		dim   string
		layer string
	}{{"1MB", 256, "1024", "lin"}, {"64MB", 4096, "4096", "lin"}, {"4.8MB-in", 8, "150528", "sum"}} {
		opts := map[string]string{"dim": size.dim}
		var d int64
		fmt.Sscan(size.dim, &d)
		req := &sdk.ExtractRequest{Layers: []string{size.layer}, Input: rows(size.rows, d)}
		direct, err := toyplugin.New().Load(ctx, &sdk.LoadRequest{Arch: "toy", Options: opts})
		if err != nil {
			b.Fatal(err)
		}
		remote := load(b, toy(b, c), opts)
		for _, m := range []struct {
			name string
			m    sdk.Model
		}{{"direct", direct}, {"plugin", remote}} {
			b.Run(size.name+"/"+m.name, func(b *testing.B) {
				b.SetBytes(int64(4 * len(req.Input.Float32)))
				pid := 0
				if m.name == "plugin" {
					pid, _ = c.PID("toy")
				}
				cpu0, n := cpuTime(pid), 0
				for b.Loop() {
					if _, err := m.m.Extract(ctx, req); err != nil {
						b.Fatal(err)
					}
					n++
				}
				// CPU time of host and plugin per call: unlike ns/op it
				// hardly depends on what else the machine runs.
				if cpu := cpuTime(pid) - cpu0; cpu > 0 && n > 0 {
					b.ReportMetric(float64(cpu.Nanoseconds())/float64(n), "cpu-ns/op")
				}
			})
		}
	}
}

// cpuTime returns the CPU time (user and system) this process has used,
// plus that of process pid when pid is not 0; 0 when unknown.
func cpuTime(pid int) time.Duration {
	var self time.Duration
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		self = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	if pid == 0 {
		return self
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the parenthesised command: state is field 3, utime 14,
	// stime 15, in clock ticks (100 a second on Linux).
	rest := string(b[bytes.LastIndexByte(b, ')')+2:])
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	var ut, st int64
	fmt.Sscan(f[11], &ut)
	fmt.Sscan(f[12], &st)
	return self + time.Duration(ut+st)*10*time.Millisecond
}
