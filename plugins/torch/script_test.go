package torch_test

import (
	"context"
	"errors"
	"math"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
)

// TestTorchScript loads a TorchScript file (arch torchscript) and checks
// its output against the same weights loaded as a torchvision arch.
func TestTorchScript(t *testing.T) {
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/make_script.py", dir)
	bb, _ := start(t)
	ctx := context.Background()
	sm, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "torchscript", Options: map[string]string{"file": filepath.Join(dir, "resnet18.pt"), "input_shape": "1,3,32,32"}})
	if err != nil {
		t.Fatal(err)
	}
	defer sm.Close()
	am, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", WeightsPath: filepath.Join(dir, "resnet18.pth"), Options: map[string]string{"num_classes": "10"}})
	if err != nil {
		t.Fatal(err)
	}
	defer am.Close()
	ls, err := sm.Layers(ctx, nil)
	if err != nil || len(ls) != 1 || ls[0].Name != "output" || !sdk.EqualShape(ls[0].Shape, []int64{-1, 10}) {
		t.Fatalf("Layers() = %v, %v; want one output layer [-1 10]", ls, err)
	}
	x := &sdk.Tensor{Shape: []int64{2, 3, 32, 32}, Float32: make([]float32, 2*3*32*32)}
	for i := range x.Float32 {
		x.Float32[i] = float32(math.Sin(float64(i)))
	}
	a, err := sm.Extract(ctx, &sdk.ExtractRequest{Input: x})
	if err != nil {
		t.Fatal(err)
	}
	b, err := am.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"fc"}, Input: x})
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range b.Outputs["fc"].Float32 {
		if d := math.Abs(float64(a.Outputs["output"].Float32[i] - v)); d > 1e-5 {
			t.Fatalf("TorchScript output differs from resnet18 with the same weights by %g", d)
		}
	}
	if _, err := sm.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"layer4"}, Input: x}); !errors.Is(err, sdk.ErrUnknownLayer) {
		t.Errorf("Extract(layer4) on TorchScript = %v; want ErrUnknownLayer", err)
	}
}
