// Command gozoo-backbone-classic is gozoo's backbone plugin of classic
// torchvision classifiers (AlexNet, SqueezeNet, DenseNet). A gozoo host
// starts it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/classic"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(classic.New())
}
