// Command gozoo-backbone-onnx is gozoo's plugin for any ONNX model. A gozoo
// host starts it; run by hand it prints a hint and exits.
package main

import (
	"fmt"
	"os"

	"github.com/gozoo/gozoo/plugins/onnx"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	if err := plugin.Serve(onnx.New()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
