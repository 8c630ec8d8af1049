package transformer_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestConformance runs the plugin author's conformance suite against the
// real gozoo-backbone-transformer binary, through go-plugin: a small vit
// on a non-square input (position embeddings resampled) and a small text
// encoder.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(testenv.BuildPlugin(t, "transformer"), "gozoo-backbone-transformer")
	bb := sdktest.Start(t, bin)
	t.Run("vit", func(t *testing.T) {
		sdktest.Run(t, bb, sdktest.WithArch("vit"), sdktest.WithInputShape(-1, 3, 32, 48),
			sdktest.WithLoadOptions(map[string]string{"patch_size": "8", "num_layers": "2", "num_heads": "2",
				"hidden_dim": "16", "mlp_dim": "24", "image_size": "32", "num_classes": "5"}),
			sdktest.WithLayers("conv_proj", "encoder.layers.encoder_layer_1.self_attention", "cls_token", "patch_mean", "heads.head"))
	})
	t.Run("text_encoder", func(t *testing.T) {
		sdktest.Run(t, bb, sdktest.WithArch("text_encoder"), sdktest.WithInputShape(-1, 7),
			sdktest.WithLoadOptions(map[string]string{"num_embeddings": "30", "d_model": "16", "nhead": "2",
				"dim_feedforward": "24", "num_layers": "2", "max_len": "10", "num_classes": "4", "norm_first": "true"}),
			sdktest.WithLayers("embedding", "encoder.layers.1.linear1", "mean", "fc"))
	})
}
