// Command gozoo-backbone-onnx is gozoo's plugin for any ONNX model. A gozoo
// host starts it; run by hand it prints a hint and exits.
package main

import (
	"github.com/gozoo/gozoo/plugins/onnx"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	plugin.Main(onnx.New())
}
