package plugin_test

import (
	"fmt"
	"os"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/plugin"
)

// A plugin binary's main function serves its backbone; the host starts the
// binary and talks to it. Run by hand, Serve returns an error wrapping
// plugin.ErrNoHost that says so, and main prints it and exits 1.
func ExampleServe() {
	if err := plugin.Serve(toyplugin.New(), plugin.WithLogLevel("info")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

// A plugin whose files the host must not read or write, for example one
// that runs in a container without the host's /dev/shm, can turn the
// shared-memory tensor path off; tensors then always stream.
func ExampleWithSharedMemory() {
	if err := plugin.Serve(toyplugin.New(), plugin.WithSharedMemory(false)); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
