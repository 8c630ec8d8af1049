// Command gozoo-backbone-efficientnet is gozoo's EfficientNet backbone
// plugin. A gozoo host starts it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/efficientnet"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() { plugin.Main(efficientnet.New()) }
