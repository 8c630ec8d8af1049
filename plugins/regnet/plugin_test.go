package regnet_test

import (
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestConformance runs the plugin author's conformance suite against the
// real gozoo-backbone-regnet binary, through go-plugin.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(testenv.BuildPlugin(t, "regnet"), "gozoo-backbone-regnet")
	sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("regnet_y_400mf"), sdktest.WithInputShape(-1, 3, 64, 48),
		sdktest.WithLoadOptions(map[string]string{"num_classes": "10"}),
		sdktest.WithLayers("stem", "trunk_output.block1.block1-0.proj", "trunk_output.block2.block2-0.f.se", "trunk_output.block4", "avgpool", "fc"))
}
