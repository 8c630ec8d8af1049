package swin_test

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
// real gozoo-backbone-swin binary, through go-plugin, on a
// non-square input that pads to whole windows.
func TestConformance(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(testenv.BuildPlugin(t, "swin"), "gozoo-backbone-swin")
	sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("swin_t"), sdktest.WithInputShape(-1, 3, 64, 92),
		sdktest.WithLoadOptions(map[string]string{"num_classes": "10"}),
		sdktest.WithLayers("features.0", "features.1.1.attn", "features.4", "flatten", "head"))
}
