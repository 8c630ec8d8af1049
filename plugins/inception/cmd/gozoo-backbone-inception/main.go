// Command gozoo-backbone-inception is gozoo's Inception backbone plugin
// (inception_v3, googlenet). A gozoo host starts it; run by hand it prints
// a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/inception"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(inception.New())
}
