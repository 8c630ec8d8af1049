// Command gozoo-backbone-lstm is gozoo's recurrent backbone plugin
// (archs lstm and gru). A gozoo host starts it; run by hand it prints a
// hint and exits.
package main

import (
	"fmt"
	"os"

	"github.com/gozoo/gozoo/plugins/lstm"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	if err := plugin.Serve(lstm.New()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
