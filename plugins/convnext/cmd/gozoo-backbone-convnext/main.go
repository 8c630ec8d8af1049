// Command gozoo-backbone-convnext is gozoo's ConvNeXt backbone plugin
// (torchvision's convnext_tiny, _small, _base and _large). A gozoo host
// starts it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/convnext"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() { plugin.Main(convnext.New()) }
