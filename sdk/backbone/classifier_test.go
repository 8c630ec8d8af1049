package backbone

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// tinyClassifiers are tinyNet of widths 4 and 8 as a classifier family.
var tinyClassifiers = ClassifierFamily("tiny", "0.0.1", []Classifier{
	{Name: "tiny4", Doc: "width 4", Size: 16, Head: "fc",
		Build: func(k int64, in []int64) *nn.Builder { return (&tinyNet{width: 4, classes: k}).Build(in) }},
	{Name: "tiny8", Doc: "width 8", Size: 24, Head: "fc", DefaultLayer: "pool",
		Build: func(k int64, in []int64) *nn.Builder { return (&tinyNet{width: 8, classes: k}).Build(in) }},
})

// TestClassifierFamily checks the option, the default inputs and layers,
// num_classes from a checkpoint, and the arch a checkpoint of the other
// width is refused with.
func TestClassifierFamily(t *testing.T) {
	ctx := context.Background()
	bb := New(tinyClassifiers)
	d, err := bb.Describe(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if a := d.Archs[1]; a.Name != "tiny8" || !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 24, 24}) || a.Options[0].Name != "num_classes" || a.Options[0].Default != "1000" {
		t.Errorf("Describe arch 1 = %+v; want tiny8, input [-1, 3, 24, 24], num_classes default 1000", a)
	}
	n, err := tinyClassifiers.Archs[1].New(Options{vals: map[string]string{"num_classes": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	if n.DefaultLayer() != "pool" || !sdk.EqualShape(n.DefaultInput(), []int64{-1, 3, 24, 24}) || !sdk.EqualShape(n.Input().Shape, []int64{-1, 3, -1, -1}) {
		t.Errorf("tiny8 net: default layer %s, default input %v, input %v", n.DefaultLayer(), n.DefaultInput(), n.Input().Shape)
	}

	path := filepath.Join(t.TempDir(), "tiny8.safetensors")
	saveTiny(t, path, 8, 5, 1)
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "tiny8", WeightsPath: path})
	if err != nil {
		t.Fatalf("Load(tiny8, its checkpoint) = %v", err)
	}
	ls, err := m.Layers(ctx, nil)
	if err != nil || ls[len(ls)-1].Name != "fc" || !sdk.EqualShape(ls[len(ls)-1].Shape, []int64{-1, 5}) {
		t.Errorf("Layers = %v, %v; want fc [-1, 5] from the checkpoint", ls, err)
	}
	m.Close()
	_, err = bb.Load(ctx, &sdk.LoadRequest{Arch: "tiny4", WeightsPath: path})
	if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "the checkpoint is a tiny8 state_dict: load it with arch tiny8") {
		t.Errorf("Load(tiny4, a tiny8 checkpoint) = %v; want ErrWeights naming tiny8", err)
	}
}
