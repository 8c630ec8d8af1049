package nn_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// windowNet mirrors Ops in testdata/window.py: x [N, 8, 5, 6] (NCHW),
// y [N, 9, 10, 8] and z [N, 5, 11, 8] (channels-last).
func windowNet() *nn.Builder {
	b := nn.NewBuilder("Ops")
	x := b.Input("x", []int64{-1, 8, 5, 6}, 0)
	y := b.Input("y", []int64{-1, 9, 10, 8}, 0)
	z := b.Input("z", []int64{-1, 5, 11, 8}, 0)
	b.LayerNorm2d("ln2d", x, 8, 1e-6)
	b.Alias("roll", "Roll", b.Roll(y, []int64{-3, 2}, 1, 2))
	b.Alias("merge_even", "PatchMerging", b.MergePatches(b.Slice(y, 1, 0, 8)))
	b.Alias("merge_odd", "PatchMerging", b.MergePatches(z))
	b.ShiftedWindowAttention("plain", y, nn.WindowAttention{Dim: 8, NumHeads: 2, Window: nn.P(3)})
	b.ShiftedWindowAttention("shifted", y, nn.WindowAttention{Dim: 8, NumHeads: 2, Window: nn.P(3), Shift: nn.P(1)})
	b.ShiftedWindowAttention("tall", z, nn.WindowAttention{Dim: 8, NumHeads: 4, Window: nn.P(7), Shift: nn.P(3)})
	b.ShiftedWindowAttention("rect", z, nn.WindowAttention{Dim: 8, NumHeads: 2, Window: nn.Pair{2, 3}, Shift: nn.P(1)})
	return b
}

// TestWindowOpsParity runs LayerNorm2d, Roll, MergePatches and
// ShiftedWindowAttention (unshifted; shifted with padding; a window
// taller than the padded map, so unshifted along the height; a
// rectangular window) on ONNX Runtime with weights saved by PyTorch and
// compares them with torchvision's, and the checkpoint's
// relative_position_index buffers with RelativePositionIndex.
func TestWindowOpsParity(t *testing.T) {
	testenv.Python(t)
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/window.py", dir)
	var meta map[string][]int64
	raw, err := os.ReadFile(filepath.Join(dir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	sd, err := bridge.Load(filepath.Join(dir, "weights.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for name, win := range map[string][2]int64{"plain": {3, 3}, "shifted": {3, 3}, "tall": {7, 7}, "rect": {2, 3}} {
		got := sd.Tensors[name+".relative_position_index"]
		if want := nn.RelativePositionIndex(win[0], win[1]); got == nil || !slices.Equal(got.Int64, want) {
			t.Errorf("RelativePositionIndex(%d, %d) differs from torchvision's %s.relative_position_index", win[0], win[1], name)
		}
	}
	b := windowNet()
	if err := b.Err(); err != nil {
		t.Fatal(err)
	}
	w, err := nn.LoadWeights(b.Specs(), sd.Tensors)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range meta {
		names = append(names, k)
	}
	slices.Sort(names)
	data, err := b.ONNX(w, names)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ort.NewSession(data, ort.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	in := map[string]*sdk.Tensor{
		"x": readRaw(t, dir, "x", []int64{2, 8, 5, 6}),
		"y": readRaw(t, dir, "y", []int64{2, 9, 10, 8}),
		"z": readRaw(t, dir, "z", []int64{2, 5, 11, 8}),
	}
	out, err := s.Run(context.Background(), in, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		want := readRaw(t, dir, name, meta[name])
		got := out[name]
		if got == nil || !sdk.EqualShape(got.Shape, want.Shape) {
			t.Errorf("%s = %v; want shape %v", name, got, want.Shape)
			continue
		}
		var diff, scale float64
		for i := range want.Float32 {
			diff = math.Max(diff, math.Abs(float64(got.Float32[i]-want.Float32[i])))
			scale = math.Max(scale, math.Abs(float64(want.Float32[i])))
		}
		if diff > 1e-5*math.Max(1, scale) || math.IsNaN(diff) {
			t.Errorf("%s: max |ours - torch| = %.3g (max |torch| %.3g)", name, diff, scale)
		} else if testing.Verbose() {
			t.Logf("%-10s max |ours - torch| = %.3g (max |torch| %.3g)", name, diff, scale)
		}
	}
}

// TestWindowOpsErrors checks that shapes the window ops cannot take are
// build errors, not panics.
func TestWindowOpsErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(b *nn.Builder, x nn.Value)
	}{
		{"partition", func(b *nn.Builder, x nn.Value) { b.WindowPartition(x, 4, 4) }},
		{"roll free dim", func(b *nn.Builder, x nn.Value) { b.Roll(x, []int64{1}, 0) }},
		{"heads", func(b *nn.Builder, x nn.Value) {
			b.ShiftedWindowAttention("a", x, nn.WindowAttention{Dim: 8, NumHeads: 3, Window: nn.P(3)})
		}},
		{"shift", func(b *nn.Builder, x nn.Value) {
			b.ShiftedWindowAttention("a", x, nn.WindowAttention{Dim: 8, NumHeads: 2, Window: nn.P(3), Shift: nn.P(3)})
		}},
		{"channels", func(b *nn.Builder, x nn.Value) {
			b.ShiftedWindowAttention("a", x, nn.WindowAttention{Dim: 16, NumHeads: 2, Window: nn.P(3)})
		}},
		{"ln2d channels", func(b *nn.Builder, x nn.Value) { b.LayerNorm2d("n", x, 7, 1e-6) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := nn.NewBuilder("Ops")
			tc.f(b, b.Input("x", []int64{-1, 9, 10, 8}, 0))
			if err := b.Err(); err == nil {
				t.Errorf("%s: no build error", tc.name)
			}
		})
	}
}
