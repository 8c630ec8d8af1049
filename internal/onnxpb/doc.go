// Package onnxpb holds the ONNX protobuf messages gozoo reads and writes
// (ModelProto, GraphProto, NodeProto, TensorProto and the messages they
// use), generated from onnx.proto, a subset of ONNX's own onnx.proto with
// the same field numbers. Bytes marshalled from these messages are real
// ONNX models that ONNX Runtime and the onnx Python package load.
//
// The package is internal: public packages such as sdk/nn convert to and
// from these types at their edge. Regenerate onnx.pb.go with gen.sh after
// editing onnx.proto; TestGenerated fails when the two disagree.
package onnxpb
