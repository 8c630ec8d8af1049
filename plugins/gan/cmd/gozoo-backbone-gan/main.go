// Command gozoo-backbone-gan is gozoo's GAN discriminator backbone
// plugin. A gozoo host starts it; run by hand it prints a hint and
// exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/gan"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(gan.New())
}
