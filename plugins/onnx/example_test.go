package onnx_test

import (
	"context"
	"fmt"

	"github.com/gozoo/gozoo/plugins/onnx"
)

// A host reaches the plugin through sdk/host (gozoo extract --onnx); in
// process it is an sdk.Backbone like any other.
func ExampleNew() {
	d, err := onnx.New().Describe(context.Background())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Name, d.Archs[0].Name, d.Capabilities.Extract)
	// Output: onnx onnx true
}
