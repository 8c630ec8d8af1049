// Command gozoo-backbone-resnet is gozoo's ResNet backbone plugin. A gozoo
// host starts it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/resnet"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(resnet.New())
}
