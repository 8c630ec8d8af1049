// Command gozoo-backbone-autoencoder is gozoo's autoencoder backbone
// plugin (archs conv_autoencoder and mlp_autoencoder). A gozoo host starts
// it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/autoencoder"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(autoencoder.New())
}
