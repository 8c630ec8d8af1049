package sdktest_test

import (
	"testing"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// A plugin author runs the suite from a test, in process or against the
// built binary (sdktest.Start).
func ExampleRun() {
	_ = func(t *testing.T) {
		sdktest.Run(t, toyplugin.New(), sdktest.WithInputShape(-1, 4), sdktest.WithSeed(7))
	}
}
