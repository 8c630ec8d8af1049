package onnx_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/onnx"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

// TestLayerParams checks each layer's parameter count (the float
// initializers its nodes read) against PyTorch's parameters and buffers of
// the same module, on TinyNet exported with its batch norms kept.
func TestLayerParams(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/make_counts.py", dir)
	data, err := os.ReadFile(filepath.Join(dir, "counts.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]int64
	if err := json.Unmarshal(data, &want); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	m, err := onnx.New().Load(ctx, &sdk.LoadRequest{Arch: onnx.Arch, WeightsPath: filepath.Join(dir, "tinynet_bn.onnx")})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ls, err := m.Layers(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, l := range ls {
		w, ok := want[l.Name]
		if !ok {
			continue
		}
		checked++
		if l.Params != w {
			t.Errorf("Layers: %s has %d parameters; want %d (PyTorch's parameters and float buffers)", l.Name, l.Params, w)
		}
	}
	for _, n := range []string{"stem", "block", "block.bn1", "attn", "attn.qkv", "head"} {
		found := false
		for _, l := range ls {
			found = found || l.Name == n
		}
		if !found {
			t.Errorf("Layers() lacks %s: %v", n, ls)
		}
	}
	if checked < 8 {
		t.Errorf("only %d layers compared; want the modules of TinyNet", checked)
	}
	params, err := m.Params(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	for _, p := range params {
		sum += p.NumElements()
	}
	out := ls[len(ls)-1]
	if out.Name != "output" || out.Params != sum {
		t.Errorf("last layer %+v; want output with all %d parameters", out, sum)
	}
}
