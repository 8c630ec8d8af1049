// Command gozoo-backbone-lstm is gozoo's recurrent backbone plugin
// (archs lstm and gru). A gozoo host starts it; run by hand it prints a
// hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/lstm"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(lstm.New())
}
