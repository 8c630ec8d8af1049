// Command gozoo-backbone-mobilenet is gozoo's mobile-net backbone plugin
// (MobileNetV2/V3, MNASNet, ShuffleNetV2). A gozoo host starts it; run by
// hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/mobilenet"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(mobilenet.New())
}
