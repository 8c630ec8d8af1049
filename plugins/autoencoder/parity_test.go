package autoencoder

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

func maxDiff(got, want []float32) (diff, scale float64) {
	for i := range want {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			return math.Inf(1), 0
		}
		diff = math.Max(diff, d)
		scale = math.Max(scale, math.Abs(float64(want[i])))
	}
	return diff, scale
}

// TestParity compares every module of both reference autoencoders
// (testdata/autoencoder.py), the latent code, the reconstruction and the
// per-sample MSE with PyTorch on the same weights and input.
func TestParity(t *testing.T) {
	testenv.Python(t)
	needORT(t)
	ctx := context.Background()
	cases := []struct {
		name string
		args []string
		arch string
		opts map[string]string
	}{
		{"conv_1x16_8:12", []string{"conv"}, "conv_autoencoder", map[string]string{"input_size": "16", "channels": "8:12", "latent_size": "6"}},
		{"conv_3x24_4:8:6", []string{"conv", "--in-channels", "3", "--input-size", "24", "--widths", "4:8:6", "--latent", "5"}, "conv_autoencoder",
			map[string]string{"in_channels": "3", "input_size": "24", "channels": "4:8:6", "latent_size": "5"}},
		{"mlp_64_32:16", []string{"mlp", "--input-size", "64", "--widths", "32:16", "--latent", "4"}, "mlp_autoencoder",
			map[string]string{"input_size": "64", "hidden": "32:16", "latent_size": "4"}},
		{"mlp_20_9", []string{"mlp", "--input-size", "20", "--widths", "9", "--latent", "3"}, "mlp_autoencoder",
			map[string]string{"input_size": "20", "hidden": "9", "latent_size": "3"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			testenv.RunPython(t, "testdata/make_parity.py", append([]string{c.args[0], dir}, c.args[1:]...)...)
			x, err := npy.ReadFile(filepath.Join(dir, "input.npy"))
			if err != nil {
				t.Fatal(err)
			}
			want, names, err := npy.ReadNPZ(filepath.Join(dir, "outputs.npz"))
			if err != nil {
				t.Fatal(err)
			}
			m, err := New().Load(ctx, &sdk.LoadRequest{Arch: c.arch, Options: c.opts, WeightsPath: filepath.Join(dir, "weights.pth"), Threads: 1})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close()
			resp, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: names, Input: x})
			if err != nil {
				t.Fatalf("Extract(%v): %v", names, err)
			}
			worst := 0.0
			for _, n := range names {
				got := resp.Outputs[n]
				if got == nil || !sdk.EqualShape(got.Shape, want[n].Shape) {
					t.Errorf("layer %s: got %v; torch shape %v", n, got, want[n].Shape)
					continue
				}
				diff, scale := maxDiff(got.Float32, want[n].Float32)
				worst = math.Max(worst, diff/math.Max(1, scale))
				if tol := 1e-4 * math.Max(1, scale); !(diff <= tol) {
					t.Errorf("layer %s: max |ours - torch| = %.3g > %.3g", n, diff, tol)
				}
				if n == "mse" {
					t.Logf("mse ours %v, torch %v (max abs diff %.3g)", got.Float32, want[n].Float32, diff)
				}
			}
			t.Logf("%s: %d layers, worst diff/max(1,|torch|) %.3g", c.name, len(names), worst)

			// Layers are named_modules with torch's classes, plus the
			// extra taps; Params are named_parameters in order.
			b, err := os.ReadFile(filepath.Join(dir, "meta.json"))
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Modules [][2]string          `json:"modules"`
				Params  [][2]json.RawMessage `json:"params"`
			}
			if err := json.Unmarshal(b, &meta); err != nil {
				t.Fatal(err)
			}
			ls, err := m.Layers(ctx, nil)
			if err != nil {
				t.Fatal(err)
			}
			extra := map[string]string{"latent": "Latent", "reconstruction": "Reconstruction", "mse": "ReconstructionMSE"}
			if len(ls) != len(meta.Modules)+len(extra) {
				t.Errorf("Layers: %d; torch has %d modules + %d extra taps", len(ls), len(meta.Modules), len(extra))
			}
			for i, l := range ls {
				if i < len(meta.Modules) {
					if l.Name != meta.Modules[i][0] || l.Kind != meta.Modules[i][1] {
						t.Errorf("layer %d = %s (%s); torch %s (%s)", i, l.Name, l.Kind, meta.Modules[i][0], meta.Modules[i][1])
					}
				} else if extra[l.Name] != l.Kind {
					t.Errorf("extra layer %s (%s) unexpected", l.Name, l.Kind)
				}
				if w := want[l.Name]; w != nil && !sdk.EqualShape(l.Shape[1:], w.Shape[1:]) {
					t.Errorf("Layers: %s shape %v; torch %v", l.Name, l.Shape, w.Shape)
				}
			}
			ps, err := m.Params(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(ps) != len(meta.Params) {
				t.Fatalf("Params: %d; torch %d", len(ps), len(meta.Params))
			}
			for i, p := range meta.Params {
				var name string
				var shape []int64
				json.Unmarshal(p[0], &name)
				json.Unmarshal(p[1], &shape)
				if ps[i].Name != name || !sdk.EqualShape(ps[i].Shape, shape) {
					t.Errorf("param %d = %s %v; torch %s %v", i, ps[i].Name, ps[i].Shape, name, shape)
				}
			}
		})
	}
}
