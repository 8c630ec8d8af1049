package convnext_test

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
// real gozoo-backbone-convnext binary, through go-plugin, on a
// non-square input.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(testenv.BuildPlugin(t, "convnext"), "gozoo-backbone-convnext")
	sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("convnext_tiny"), sdktest.WithInputShape(-1, 3, 64, 96),
		sdktest.WithLoadOptions(map[string]string{"num_classes": "10"}),
		sdktest.WithLayers("features.0", "features.3.1.block.3", "features.6", "classifier.1", "classifier.2"))
}
