// Command gozoo-backbone-regnet is gozoo's RegNet backbone plugin. A
// gozoo host starts it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/regnet"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() { plugin.Main(regnet.New()) }
