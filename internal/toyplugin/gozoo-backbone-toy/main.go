// Command gozoo-backbone-toy serves the toy backbone (internal/toyplugin)
// as a gozoo plugin, for the protocol's tests.
package main

import (
	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() { plugin.Serve(toyplugin.New()) }
