package quant_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/quant"
)

// TestThroughPlugin serves a quantized model with the onnx plugin (a
// go-plugin process) and checks that its features equal those of the
// same QDQ graph run by ONNX Runtime in this process: the plugin adds no
// error of its own.
func TestThroughPlugin(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	layers := []string{"layer3", "avgpool", "fc"}
	model := export(t, &sdk.LoadRequest{Arch: "resnet18", Seed: 7, Threads: 1, Options: map[string]string{"width": "8", "num_classes": "10"}}, layers...)
	q, err := quant.Prepare(model, quant.Options{Session: []ort.Option{ort.WithThreads(1)}})
	if err != nil {
		t.Fatal(err)
	}
	if err := q.Calibrate(ctx, []*sdk.Tensor{noise(8, 48, 48, 1), noise(8, 48, 48, 2)}); err != nil {
		t.Fatal(err)
	}
	int8, err := q.Model()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "model.int8.onnx")
	if err := os.WriteFile(path, int8, 0o644); err != nil {
		t.Fatal(err)
	}
	x := noise(5, 48, 48, 3)
	want := run(t, int8, x)

	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath()) // the library stays where it is
	t.Setenv("GOZOO_CACHE", t.TempDir())
	h, err := host.New(host.WithPluginPath(testenv.BuildPlugin(t, "onnx")))
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	bb, err := h.Backbone(ctx, "onnx")
	if err != nil {
		t.Fatal(err)
	}
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "onnx", WeightsPath: path, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ls, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: []int64{-1, 3, 48, 48}})
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]bool{}
	for _, l := range ls {
		listed[l.Name] = true
	}
	for _, l := range layers {
		if !listed[l] {
			t.Errorf("the plugin does not list layer %s of the quantized model", l)
		}
	}
	got, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: layers})
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range layers {
		a, b := got.Outputs[l], want[l]
		if a == nil || !sdk.EqualShape(a.Shape, b.Shape) {
			t.Fatalf("plugin %s = %v; want shape %v", l, a, b.Shape)
		}
		diff := 0
		for i := range a.Float32 {
			if a.Float32[i] != b.Float32[i] {
				diff++
			}
		}
		if diff > 0 {
			t.Errorf("plugin %s differs from in-process ONNX Runtime in %d of %d values; want equal", l, diff, len(a.Float32))
		}
	}
}
