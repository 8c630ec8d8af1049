// Command gozoo-backbone-toy serves the toy backbone (internal/toyplugin)
// as a gozoo plugin, for the protocol's tests. TOY_SHARED_MEMORY=off
// serves it without the shared-memory tensor path, like a plugin that
// predates it; TOY_START_DELAY_MS=N waits N ms before serving, like a
// plugin that imports large libraries first; TOY_EXIT_DELAY_MS=N waits N
// ms after the host asked it to exit, like a plugin that tidies up.
package main

import (
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func main() {
	if ms, err := strconv.Atoi(os.Getenv("TOY_START_DELAY_MS")); err == nil && ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
	if err := plugin.Serve(toyplugin.New(), plugin.WithSharedMemory(os.Getenv("TOY_SHARED_MEMORY") != "off")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if ms, err := strconv.Atoi(os.Getenv("TOY_EXIT_DELAY_MS")); err == nil && ms > 0 {
		time.Sleep(time.Duration(ms) * time.Millisecond)
	}
}
