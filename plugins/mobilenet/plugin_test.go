package mobilenet_test

import (
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestConformance runs the plugin author's conformance suite against the
// real gozoo-backbone-mobilenet binary, through go-plugin.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(testenv.BuildPlugin(t, "mobilenet"), "gozoo-backbone-mobilenet")
	sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("mobilenet_v3_small"), sdktest.WithInputShape(-1, 3, 64, 48),
		sdktest.WithLoadOptions(map[string]string{"num_classes": "10"}),
		sdktest.WithLayers("features.0", "features.4.block.2", "features.12", "avgpool", "flatten", "classifier.3"))
}
