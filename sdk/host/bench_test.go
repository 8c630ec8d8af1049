package host_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

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

// BenchmarkExtract compares one Extract of the "lin" layer (output as big
// as the input) through the plugin with the same call in process.
func BenchmarkExtract(b *testing.B) {
	ctx := context.Background()
	c := newClient(b)
	for _, size := range []struct {
		name string
		rows int64
		dim  string
	}{{"1MB", 256, "1024"}, {"64MB", 4096, "4096"}} {
		opts := map[string]string{"dim": size.dim}
		var d int64
		fmt.Sscan(size.dim, &d)
		req := &sdk.ExtractRequest{Layers: []string{"lin"}, Input: rows(size.rows, d)}
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
				for b.Loop() {
					if _, err := m.m.Extract(ctx, req); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}
