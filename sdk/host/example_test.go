package host_test

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// This example starts the toy plugin, loads a model and extracts two layers
// for 10 rows in batches of 4.
func Example() {
	ctx := context.Background()
	c, err := host.New(host.WithPluginPath(filepath.Dir(toyBin)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	bb, err := c.Backbone(ctx, "toy")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "toy", Seed: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	x := sdk.Zeros(10, 4)
	for i := range x.Float32 {
		x.Float32[i] = float32(i % 4)
	}
	out, err := host.ExtractBatches(ctx, m, &sdk.ExtractRequest{Layers: []string{"lin", "sum"}, Input: x}, 4,
		func(done, total int) { fmt.Printf("%d/%d rows\n", done, total) })
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("lin", sdk.FormatShape(out.Outputs["lin"].Shape), out.Outputs["lin"].Float32[:4])
	fmt.Println("sum", sdk.FormatShape(out.Outputs["sum"].Shape), out.Outputs["sum"].Float32[9])
	// Output:
	// 4/10 rows
	// 8/10 rows
	// 10/10 rows
	// lin [10, 4] [0 2 4 6]
	// sum [10, 1] 6
}

func ExampleClient_Plugins() {
	c, err := host.New(host.WithPluginPath(filepath.Dir(toyBin)))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	infos, err := c.Plugins()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, in := range infos {
		fmt.Println(in.Name, filepath.Base(in.Path), len(in.SHA256))
	}
	// Output: toy gozoo-backbone-toy 64
}

// Extract passes a large input tensor to a plugin on the same machine as a
// file in shared memory, not through gRPC; WithSharedMemory(false) makes
// every tensor stream instead, with the same results.
func ExampleWithSharedMemory() {
	ctx := context.Background()
	x := sdk.Zeros(256, 1024) // 1 MiB
	for i := range x.Float32 {
		x.Float32[i] = float32(i % 7)
	}
	for _, on := range []bool{true, false} {
		c, err := host.New(host.WithPluginPath(filepath.Dir(toyBin)), host.WithSharedMemory(on))
		if err != nil {
			fmt.Println(err)
			return
		}
		bb, err := c.Backbone(ctx, "toy")
		if err != nil {
			fmt.Println(err)
			return
		}
		m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "toy", Options: map[string]string{"dim": "1024"}})
		if err != nil {
			fmt.Println(err)
			return
		}
		out, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"lin"}, Input: x})
		if err != nil {
			fmt.Println(err)
			return
		}
		lin := out.Outputs["lin"]
		fmt.Println("shared memory", on, sdk.FormatShape(lin.Shape), lin.Float32[len(lin.Float32)-3:])
		c.Close()
	}
	// Output:
	// shared memory true [256, 1024] [10 12 0]
	// shared memory false [256, 1024] [10 12 0]
}
