package autoencoder

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
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

// checkpoint returns the seeded init of arch configured by opts as a
// checkpoint (TestParity shows its keys and shapes are PyTorch's).
func checkpoint(t *testing.T, arch string, opts map[string]string) string {
	t.Helper()
	i := slices.IndexFunc(Family.Archs, func(a backbone.Arch) bool { return a.Name == arch })
	o, err := backbone.NewOptions(&Family.Archs[i], opts)
	if err != nil {
		t.Fatal(err)
	}
	n, err := Family.Archs[i].New(o)
	if err != nil {
		t.Fatal(err)
	}
	return sdktest.WriteCheckpoint(t, nn.RandomWeights(n.Build(n.DefaultInput()).Specs(), 1).StateDict())
}

// TestCheckpointOptions checks that a checkpoint's shapes set every
// option, that a contradicting option is an error naming both values and
// no other option, and that the other arch's checkpoint says which arch
// it is.
func TestCheckpointOptions(t *testing.T) {
	mlp := checkpoint(t, "mlp_autoencoder", map[string]string{"input_size": "12", "hidden": "6:5", "latent_size": "2"})
	conv := checkpoint(t, "conv_autoencoder", map[string]string{"in_channels": "2", "input_size": "8", "channels": "3", "latent_size": "4"})
	ctx := context.Background()
	for _, tc := range []struct {
		arch, path string
		input      []int64
		latent     []int64
	}{
		{"mlp_autoencoder", mlp, []int64{-1, 12}, []int64{-1, 2}},
		{"conv_autoencoder", conv, []int64{-1, 2, 8, 8}, []int64{-1, 4}},
	} {
		m, err := New().Load(ctx, &sdk.LoadRequest{Arch: tc.arch, WeightsPath: tc.path})
		if err != nil {
			t.Fatalf("Load(%s) without options = %v; want the checkpoint's sizes", tc.arch, err)
		}
		ls, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: tc.input})
		m.Close()
		if err != nil {
			t.Fatalf("%s Layers(%v) = %v; want the checkpoint's input size", tc.arch, tc.input, err)
		}
		if l := ls[len(ls)-3]; l.Name != "latent" || !sdk.EqualShape(l.Shape, tc.latent) {
			t.Errorf("%s: %s %v; want latent %v", tc.arch, l.Name, l.Shape, tc.latent)
		}
	}
	for _, tc := range []struct {
		arch, path string
		opts       map[string]string
		want, not  []string
	}{
		{"mlp_autoencoder", mlp, map[string]string{"input_size": "12", "hidden": "7:5", "latent_size": "2"}, []string{"hidden=7:5 but the checkpoint has 6:5"}, []string{"input_size", "latent_size"}},
		{"mlp_autoencoder", mlp, map[string]string{"latent_size": "3"}, []string{"latent_size=3 but the checkpoint has 2"}, []string{"hidden"}},
		{"conv_autoencoder", conv, map[string]string{"input_size": "16"}, []string{"input_size=16 but the checkpoint has 8"}, []string{"channels"}},
		{"conv_autoencoder", conv, map[string]string{"in_channels": "1", "channels": "3"}, []string{"in_channels=1 but the checkpoint has 2"}, []string{"channels=3"}},
		{"conv_autoencoder", mlp, nil, []string{"encoder.0.weight has shape [6, 12]", "looks like a mlp_autoencoder"}, nil},
		{"mlp_autoencoder", conv, nil, []string{"looks like a conv_autoencoder"}, nil},
	} {
		_, err := New().Load(ctx, &sdk.LoadRequest{Arch: tc.arch, WeightsPath: tc.path, Options: tc.opts})
		if !errors.Is(err, sdk.ErrWeights) {
			t.Errorf("Load(%s, %v) = %v; want ErrWeights", tc.arch, tc.opts, err)
			continue
		}
		for _, s := range tc.want {
			if !strings.Contains(err.Error(), s) {
				t.Errorf("Load(%s, %v) error %q lacks %q", tc.arch, tc.opts, err, s)
			}
		}
		for _, s := range tc.not {
			if strings.Contains(err.Error(), s) {
				t.Errorf("Load(%s, %v) error %q names %q, which is not at fault", tc.arch, tc.opts, err, s)
			}
		}
	}
}
