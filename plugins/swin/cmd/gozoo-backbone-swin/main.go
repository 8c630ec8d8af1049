// Command gozoo-backbone-swin is gozoo's Swin Transformer backbone plugin
// (torchvision's swin_t, swin_s and swin_b). A gozoo host starts it; run
// by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/swin"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() { plugin.Main(swin.New()) }
