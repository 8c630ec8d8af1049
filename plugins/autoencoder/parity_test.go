package autoencoder

import (
	"context"
	"maps"
	"slices"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

// extraLayers are the layers that are no torch module.
var extraLayers = []string{"latent", "reconstruction", "mse"}

// TestParity compares every module of both reference autoencoders
// (testdata/autoencoder.py), the latent code, the reconstruction and the
// per-sample MSE with PyTorch on the same weights and input, and the
// layers and params with torch's modules and parameters. Some cases give
// every option, the others none: the checkpoint's shapes set them.
func TestParity(t *testing.T) {
	needORT(t)
	cases := []struct {
		name string
		args []string
		arch string
		opts map[string]string
	}{
		{"conv_1x16_8:12", []string{"conv"}, "conv_autoencoder", map[string]string{"input_size": "16", "channels": "8:12", "latent_size": "6"}},
		{"conv_3x24_4:8:6", []string{"conv", "--in-channels", "3", "--input-size", "24", "--widths", "4:8:6", "--latent", "5"}, "conv_autoencoder", nil},
		{"mlp_64_32:16", []string{"mlp", "--input-size", "64", "--widths", "32:16", "--latent", "4"}, "mlp_autoencoder",
			map[string]string{"input_size": "64", "hidden": "32:16", "latent_size": "4"}},
		{"mlp_20_9", []string{"mlp", "--input-size", "20", "--widths", "9", "--latent", "3"}, "mlp_autoencoder", nil},
	}
	var args [][]string
	for _, c := range cases {
		args = append(args, c.args)
	}
	fixtures := sdktest.MakeFixtures(t, "testdata/make_parity.py", args)
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := fixtures[i]
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: c.arch, Options: c.opts, WeightsPath: f.Weights(), Threads: 1})
			if err != nil {
				t.Fatalf("Load(%s, %v): %v", c.arch, c.opts, err)
			}
			defer m.Close()
			f.Check(t, m, slices.Sorted(maps.Keys(f.Outputs)))
			f.CheckCoverage(t, m, extraLayers...)
		})
	}
}
