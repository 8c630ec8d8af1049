package torch_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
)

// TestHostConvertsWeights loads a .pth into the torch plugin, which reads
// safetensors only: the host hands it a converted copy in a private
// folder, the model holds the checkpoint's values, the copy goes when the
// model closes, and the folder when the client closes.
func TestHostConvertsWeights(t *testing.T) {
	// A short folder: the plugin's socket lives below TMPDIR too, and a
	// Unix socket path holds at most 107 bytes.
	tmp, err := os.MkdirTemp("", "gzw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	t.Setenv("TMPDIR", tmp)
	weights := filepath.Join(t.TempDir(), "r18.pth")
	testenv.RunPython(t, "testdata/make_weights.py", "resnet18", weights, "4", "10")
	bb, c := start(t)
	ctx := context.Background()
	d, err := bb.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(d.Capabilities.WeightsFormats, []sdk.WeightsFormat{sdk.FormatSafetensors}) {
		t.Fatalf("torch plugin reads %v; want safetensors only", d.Capabilities.WeightsFormats)
	}
	converted := func() []string {
		m, err := filepath.Glob(filepath.Join(tmp, "gozoo-weights-*", "*", "r18.pth"))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", WeightsPath: weights, Options: map[string]string{"num_classes": "10"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := converted(); len(got) != 1 {
		t.Fatalf("converted copies while the model is open: %v; want one", got)
	}
	ps, err := m.(sdk.Exporter).Export(ctx, &sdk.ExportRequest{Path: filepath.Join(t.TempDir(), "out.pth"), Format: sdk.FormatPTH})
	if err != nil {
		t.Fatal(err)
	}
	a, err := bridge.Load(weights)
	if err != nil {
		t.Fatal(err)
	}
	b, err := bridge.Load(ps.Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range a.Keys {
		if !slices.Equal(a.Tensors[k].Float32, b.Tensors[k].Float32) || !slices.Equal(a.Tensors[k].Int64, b.Tensors[k].Int64) {
			t.Fatalf("tensor %s: the plugin's model differs from the checkpoint", k)
		}
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := converted(); len(got) != 0 {
		t.Errorf("converted copies after the model closed: %v; want none", got)
	}
	if _, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", WeightsPath: weights, Options: map[string]string{"num_classes": "10"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if left, _ := filepath.Glob(filepath.Join(tmp, "gozoo-weights-*")); len(left) != 0 {
		t.Errorf("after Client.Close: %v; want no converted-weights folder", left)
	}
}

// BenchmarkLoadConverted measures what the host's conversion costs a
// torch Load: a resnet18 .pth (read by the bridge, written as safetensors,
// then read by the plugin) against the same weights given as safetensors
// (read by the plugin directly), in the same run. It reports the ratio.
func BenchmarkLoadConverted(b *testing.B) {
	dir := b.TempDir()
	pth := filepath.Join(dir, "r18.pth")
	testenv.RunPython(b, "testdata/make_weights.py", "resnet18", pth, "0", "10")
	sd, err := bridge.Load(pth)
	if err != nil {
		b.Fatal(err)
	}
	st := filepath.Join(dir, "r18.safetensors")
	f, err := os.Create(st)
	if err != nil {
		b.Fatal(err)
	}
	if err := bridge.WriteSafetensors(f, sd); err != nil {
		b.Fatal(err)
	}
	if err := f.Close(); err != nil {
		b.Fatal(err)
	}
	bb, _ := start(b)
	ctx := context.Background()
	load := func(path string) time.Duration {
		t0 := time.Now()
		m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", WeightsPath: path, Options: map[string]string{"num_classes": "10"}})
		if err != nil {
			b.Fatal(err)
		}
		d := time.Since(t0)
		if err := m.Close(); err != nil {
			b.Fatal(err)
		}
		return d
	}
	load(st) // warm up the plugin
	b.ResetTimer()
	var conv, direct time.Duration
	for i := 0; i < b.N; i++ {
		conv += load(pth)
		direct += load(st)
	}
	b.ReportMetric(float64(conv.Milliseconds())/float64(b.N), "ms/load-pth")
	b.ReportMetric(float64(direct.Milliseconds())/float64(b.N), "ms/load-safetensors")
	b.ReportMetric(float64(conv)/float64(direct), "pth/safetensors")
}
