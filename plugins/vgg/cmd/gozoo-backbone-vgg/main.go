// Command gozoo-backbone-vgg is gozoo's VGG backbone plugin. A gozoo host
// starts it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/vgg"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(vgg.New())
}
