// Command gozoo-backbone-tinycnn is a gozoo backbone plugin built outside
// gozoo's module: the tinycnn family (tinycnn.go), whose PyTorch twin is
// tinycnn.py. Put the binary in a folder on GOZOO_PLUGIN_PATH and gozoo
// finds it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() { plugin.Main(backbone.New(family)) }
