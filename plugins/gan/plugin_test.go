package gan_test

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestConformance runs the plugin author's conformance suite against the
// real gozoo-backbone-gan binary, through go-plugin, for both archs.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(testenv.BuildPlugin(t, "gan"), "gozoo-backbone-gan")
	t.Run("dcgan_discriminator", func(t *testing.T) {
		sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("dcgan_discriminator"), sdktest.WithInputShape(-1, 3, 64, 64),
			sdktest.WithLoadOptions(map[string]string{"ndf": "16"}),
			sdktest.WithLayers("main.0", "main.3", "main.10", "main.11", "main"))
	})
	t.Run("sn_dcgan_discriminator", func(t *testing.T) {
		sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("sn_dcgan_discriminator"), sdktest.WithInputShape(-1, 1, 32, 32),
			sdktest.WithLoadOptions(map[string]string{"ndf": "8", "nc": "1", "image_size": "32", "spectral_norm": "hook", "batch_norm": "false", "bias": "true"}),
			sdktest.WithLayers("main.0", "main.5", "main.6", "main"))
	})
}

// TestPluginCheckpoint loads a torch spectral-norm checkpoint (hook
// layout, one input channel, no BatchNorm, conv biases) in the plugin
// process, its options all read from the checkpoint, and compares every
// layer with torch.
func TestPluginCheckpoint(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	f := sdktest.MakeFixture(t, "testdata/make_parity.py", "--image-size", "32", "--ndf", "8", "--nc", "1",
		"--sn", "hook", "--no-batch-norm", "--bias")
	bb := sdktest.Start(t, filepath.Join(testenv.BuildPlugin(t, "gan"), "gozoo-backbone-gan"))
	m, err := bb.Load(context.Background(), &sdk.LoadRequest{Arch: "sn_dcgan_discriminator", WeightsPath: f.Weights(), Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	f.Check(t, m, slices.Sorted(maps.Keys(f.Outputs)))
	var skip []string
	for _, mod := range f.Modules {
		if strings.Contains(mod[0], ".parametrizations") {
			skip = append(skip, mod[0])
		}
	}
	f.CheckCoverage(t, m, skip...)
}
