package sdktest_test

import (
	"context"
	"testing"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// A plugin author runs the suite from a test, in process or against the
// built binary (sdktest.Start).
func ExampleRun() {
	_ = func(t *testing.T) {
		sdktest.Run(t, toyplugin.New(), sdktest.WithInputShape(-1, 4), sdktest.WithSeed(7))
	}
}

// A plugin author checks that only the host reaches the plugin: start it
// through sdk/host, then attack its channel.
func ExampleCheckChannel() {
	_ = func(t *testing.T) {
		c, err := host.New(host.WithPluginPath("/path/to/plugins"))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Backbone(context.Background(), "mine"); err != nil {
			t.Fatal(err)
		}
		sdktest.CheckChannel(t, c, "mine")
	}
}
