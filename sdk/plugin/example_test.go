package plugin_test

import (
	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/plugin"
)

// A plugin binary's main function serves its backbone; the host starts the
// binary and talks to it. Run by hand, it prints a hint and exits.
func ExampleServe() {
	plugin.Serve(toyplugin.New(), plugin.WithLogLevel("info"))
}

// A plugin whose files the host must not read or write, for example one
// that runs in a container without the host's /dev/shm, can turn the
// shared-memory tensor path off; tensors then always stream.
func ExampleWithSharedMemory() {
	plugin.Serve(toyplugin.New(), plugin.WithSharedMemory(false))
}
