package toyplugin_test

import (
	"testing"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestConformance runs the suite in process, with no plugin wire.
func TestConformance(t *testing.T) {
	sdktest.Run(t, toyplugin.New())
}

func TestConformanceWide(t *testing.T) {
	sdktest.Run(t, toyplugin.New(), sdktest.WithLoadOptions(map[string]string{"dim": "16"}),
		sdktest.WithInputShape(-1, 16), sdktest.WithLayers("lin", "sum", "head"), sdktest.WithSeed(9))
}
