// Command hostprog is a host that starts the toy plugin from the folder
// it is given, loads a model, prints "PID SOCKETDIR" and waits to be
// killed.
//
// Usage: hostprog PLUGINDIR
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

func main() {
	c, err := host.New(host.WithPluginPath(os.Args[1]))
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	ctx := context.Background()
	bb, err := c.Backbone(ctx, "toy")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	if _, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "toy"}); err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	pid, err := c.PID("toy")
	if err != nil {
		fmt.Println(err)
		os.Exit(1)
	}
	fmt.Println(pid, c.SocketDir())
	select {}
}
