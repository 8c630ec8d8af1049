// Package inferencev2 holds the Open Inference Protocol (KServe v2) gRPC
// messages and service stubs that sdk/serve speaks, generated from
// grpc_predict_v2.proto by gen.sh. Public packages never expose these
// types.
package inferencev2
