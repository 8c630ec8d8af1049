package torch_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

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
