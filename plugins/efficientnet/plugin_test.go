package efficientnet_test

import (
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestConformance runs the plugin author's conformance suite against the
// real gozoo-backbone-efficientnet binary, through go-plugin.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(testenv.BuildPlugin(t, "efficientnet"), "gozoo-backbone-efficientnet")
	sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("efficientnet_b0"), sdktest.WithInputShape(-1, 3, 64, 48),
		sdktest.WithLoadOptions(map[string]string{"num_classes": "10"}),
		sdktest.WithLayers("features.0", "features.2.1.stochastic_depth", "features.4.0.block.2", "features.8", "avgpool", "classifier"))
}
