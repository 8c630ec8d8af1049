package classic_test

import (
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestConformance runs the plugin author's conformance suite against the
// real gozoo-backbone-classic binary, through go-plugin.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(testenv.BuildPlugin(t, "classic"), "gozoo-backbone-classic")
	sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("squeezenet1_1"), sdktest.WithInputShape(-1, 3, 64, 48),
		sdktest.WithLoadOptions(map[string]string{"num_classes": "10"}),
		sdktest.WithLayers("features.0", "features.3", "features.12.expand3x3", "classifier.3", "flatten"))
}
