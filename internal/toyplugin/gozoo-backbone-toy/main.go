// Command gozoo-backbone-toy serves the toy backbone (internal/toyplugin)
// as a gozoo plugin, for the protocol's tests. TOY_SHARED_MEMORY=off
// serves it without the shared-memory tensor path, like a plugin that
// predates it.
package main

import (
	"os"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Serve(toyplugin.New(), plugin.WithSharedMemory(os.Getenv("TOY_SHARED_MEMORY") != "off"))
}
