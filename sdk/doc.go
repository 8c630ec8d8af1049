// Package sdk is gozoo's public contract between a host and a backbone
// plugin: the Backbone and Model interfaces, the Tensor, Layer and Param
// values they exchange, and the sentinel errors that survive a trip over
// the plugin wire so that errors.Is works on the host.
//
// The package imports nothing from this module and nothing outside the
// standard library, so a plugin author can depend on it without pulling in
// gRPC or ONNX Runtime.
//
// A host obtains an sdk.Backbone from sdk/host, loads a Model from it and
// extracts features:
//
//	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet50"})
//	defer m.Close()
//	out, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"avgpool"}, Input: x})
//
// A plugin author implements Backbone and Model and serves them with
// sdk/plugin.Serve. Optional capabilities (training, export) are separate
// interfaces, Trainer and Exporter, found by type assertion.
package sdk
