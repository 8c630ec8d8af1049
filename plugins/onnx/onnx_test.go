package onnx_test

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/onnx"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// tinynet exports testdata's TinyNet with PyTorch and returns the .onnx
// path and the forward-hook outputs PyTorch computed.
func tinynet(t *testing.T) (string, map[string]*sdk.Tensor) {
	t.Helper()
	testenv.ORT(t, ort.LibraryPath())
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/make_tinynet.py", dir)
	io, _, err := npy.ReadNPZ(filepath.Join(dir, "tinynet_io.npz"))
	if err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "tinynet.onnx"), io
}

func TestConformance(t *testing.T) {
	path, _ := tinynet(t)
	bb := sdktest.Start(t, filepath.Join(testenv.BuildPlugin(t, "onnx"), "gozoo-backbone-onnx"))
	sdktest.Run(t, bb, sdktest.WithLoadOptions(map[string]string{"file": path}),
		sdktest.WithInputShape(-1, 3, 16, 16), sdktest.WithLayers("block", "attn", "output"))
}

// TestModuleParity extracts inner modules of a custom model (a residual
// and an attention block) by their PyTorch module paths and compares them
// with PyTorch's forward hooks.
func TestModuleParity(t *testing.T) {
	path, want := tinynet(t)
	ctx := context.Background()
	m, err := onnx.New().Load(ctx, &sdk.LoadRequest{Arch: onnx.Arch, WeightsPath: path})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// block.conv1 is absent: export folded block.bn1 into it.
	layers := []string{"stem", "stem.2", "block", "block.relu", "attn", "attn.qkv", "attn.proj", "pool", "head"}
	got, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: layers, Input: want["input"]})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		g, w := got.Outputs[l], want[l]
		if g == nil || !sdk.EqualShape(g.Shape, w.Shape) {
			t.Errorf("Extract(%q) = %v; want shape %v", l, g, w.Shape)
			continue
		}
		var diff, scale float64 = 0, 1
		for i := range w.Float32 {
			diff = math.Max(diff, math.Abs(float64(g.Float32[i]-w.Float32[i])))
			scale = math.Max(scale, math.Abs(float64(w.Float32[i])))
		}
		if diff > 1e-4*scale {
			t.Errorf("Extract(%q) differs from PyTorch's hook by %g; want <= %g", l, diff, 1e-4*scale)
		}
		t.Logf("%-12s max abs diff %.3g (scale %.3g)", l, diff, scale)
	}
	ls, err := m.Layers(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, l := range ls {
		names[l.Name] = true
	}
	for _, l := range layers {
		if !names[l] && l != "block.conv2" {
			t.Errorf("Layers() lacks %q", l)
		}
	}
	if names["block.conv1"] || names["block.conv2"] {
		t.Errorf("Layers() lists a convolution whose batch norm export folded into it: %v", ls)
	}
	_, err = m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"atn"}, Input: want["input"]})
	var le *sdk.LayerError
	if !errors.As(err, &le) || len(le.Suggestions) == 0 || le.Suggestions[0] != "attn" {
		t.Errorf("Extract(atn) = %v; want a LayerError suggesting attn", err)
	}
}
