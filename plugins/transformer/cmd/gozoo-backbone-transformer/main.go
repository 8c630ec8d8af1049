// Command gozoo-backbone-transformer is gozoo's transformer backbone
// plugin (torchvision's ViTs and torch.nn.TransformerEncoder text
// encoders). A gozoo host starts it; run by hand it prints a hint and
// exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/transformer"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Serve(transformer.New())
}
