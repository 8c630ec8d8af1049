package autoencoder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestConformance runs the sdktest suite against the built plugin binary
// for both archs, and freezes the encoder by name.
func TestConformance(t *testing.T) {
	needORT(t)
	dir := testenv.BuildPlugin(t, "autoencoder")
	bb := sdktest.Start(t, filepath.Join(dir, "gozoo-backbone-autoencoder"))
	t.Run("conv_autoencoder", func(t *testing.T) {
		sdktest.Run(t, bb, sdktest.WithArch("conv_autoencoder"),
			sdktest.WithLoadOptions(map[string]string{"input_size": "16", "channels": "4:8", "latent_size": "5"}),
			sdktest.WithInputShape(-1, 1, 16, 16), sdktest.WithLayers("encoder.0", "latent", "decoder", "mse"))
	})
	t.Run("mlp_autoencoder", func(t *testing.T) {
		sdktest.Run(t, bb, sdktest.WithArch("mlp_autoencoder"),
			sdktest.WithLoadOptions(map[string]string{"input_size": "30", "hidden": "12:6", "latent_size": "3"}),
			sdktest.WithInputShape(-1, 30), sdktest.WithLayers("encoder.1", "latent", "reconstruction", "mse"))
	})
	t.Run("freeze", func(t *testing.T) {
		ctx := context.Background()
		m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "conv_autoencoder"})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		resp, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"encoder.*"}, Trainable: false})
		if err != nil {
			t.Fatal(err)
		}
		want := "encoder.0.weight encoder.0.bias encoder.2.weight encoder.2.bias encoder.5.weight encoder.5.bias"
		if got := strings.Join(resp.Matched, " "); got != want {
			t.Errorf("SetTrainable(encoder.*) matched %s; want %s", got, want)
		}
		ps, _ := m.Params(ctx)
		for _, p := range ps {
			if p.Trainable == strings.HasPrefix(p.Name, "encoder.") {
				t.Errorf("%s trainable = %v", p.Name, p.Trainable)
			}
		}
	})
}

func TestBadInput(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	for _, tc := range []struct {
		arch string
		opts map[string]string
		want error
	}{
		{"conv_autoencoder", map[string]string{"input_size": "30", "channels": "4:8"}, sdk.ErrBadOption},
		{"conv_autoencoder", map[string]string{"channels": "4,x"}, sdk.ErrBadOption},
		{"mlp_autoencoder", map[string]string{"depth": "2"}, sdk.ErrBadOption},
		{"vae", nil, sdk.ErrUnknownArch},
	} {
		if _, err := New().Load(ctx, &sdk.LoadRequest{Arch: tc.arch, Options: tc.opts}); !errors.Is(err, tc.want) {
			t.Errorf("Load(%s, %v) = %v; want %v", tc.arch, tc.opts, err, tc.want)
		}
	}
	m, err := New().Load(ctx, &sdk.LoadRequest{Arch: "mlp_autoencoder", Options: map[string]string{"input_size": "10", "hidden": "4"}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	var se *sdk.ShapeError
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(2, 11)}); !errors.As(err, &se) {
		t.Errorf("Extract([2, 11]) = %v; want a ShapeError", err)
	}
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(2, 10), Lengths: []int64{1, 1}}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Extract with lengths = %v; want ErrBadInput", err)
	}
}

// TestCheckpointMismatch checks that a checkpoint saved with other sizes
// names the options to set.
func TestCheckpointMismatch(t *testing.T) {
	testenv.Python(t)
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/make_parity.py", "mlp", dir, "--input-size", "12", "--widths", "6", "--latent", "2")
	_, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: "mlp_autoencoder", WeightsPath: filepath.Join(dir, "weights.pth"),
		Options: map[string]string{"input_size": "12", "hidden": "7", "latent_size": "2"}})
	if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), "encoder.0.weight") || !strings.Contains(err.Error(), "hidden") {
		t.Errorf("Load with hidden 7 over a hidden-6 checkpoint = %v; want ErrWeights naming encoder.0.weight and the options", err)
	}
}
