// Package backbonev1 holds gozoo's backbone plugin protocol, version 1: the
// backbone.proto service, the Go code protoc generates from it (committed;
// regenerate with gen.sh or `make proto`), and the conversions between its
// messages and the public sdk types, so that protobuf types never appear in
// a public package.
//
// Both sides of the wire use it: sdk/plugin serves an sdk.Backbone as a
// BackboneServer, sdk/host turns a BackboneClient back into an sdk.Backbone.
// Large tensors travel as TensorChunk sequences (see Chunks and Assembler)
// or, when host and plugin share a machine, as files the chunk names (see
// WriteTensorFile, ReadTensorFile and the probe in DescribeRequest);
// errors travel as gRPC statuses carrying the sdk sentinel's wire code
// (see ToStatus and FromStatus).
package backbonev1
