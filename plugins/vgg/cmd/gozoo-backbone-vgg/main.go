// Command gozoo-backbone-vgg is gozoo's VGG backbone plugin. A gozoo host
// starts it; run by hand it prints a hint and exits.
package main

import (
	"fmt"
	"os"

	"github.com/gozoo/gozoo/plugins/vgg"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	if err := plugin.Serve(vgg.New()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
