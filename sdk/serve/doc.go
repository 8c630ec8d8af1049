// Package serve answers Open Inference Protocol (KServe v2) requests over
// HTTP and gRPC for gozoo models, so that a Go service can serve features
// of a PyTorch model without Python. Triton's and KServe's clients speak
// to it unchanged.
//
// # Serving a model
//
// A Model names how to open an instance (Plugin starts a plugin process
// and loads a LoadRequest in it), the image preprocessing, the layers it
// exposes and how its requests are batched. New loads every instance; the
// Server is then an http.Handler plus a gRPC service registration:
//
//	tf := imageproc.ImageNet()
//	s, err := serve.New(ctx, []serve.Model{{
//		Name:      "resnet50",
//		Open:      serve.Plugin("resnet", sdk.LoadRequest{Arch: "resnet50", WeightsPath: "/models/resnet50.pth"}),
//		Transform: &tf,
//		Outputs:   []string{"layer4", "avgpool", "fc"},
//		Instances: 2, Threads: 8, // two plugin processes, four cores each
//		MaxBatch:  16, MaxDelay: 5 * time.Millisecond, MaxQueue: 64,
//	}})
//	if err != nil { ... }
//	mux.Handle("/v2/", s.Handler())      // REST: health, metadata, infer
//	mux.Handle("/metrics", s.Metrics())  // Prometheus
//	g := grpc.NewServer(s.GRPCServerOptions()...)
//	s.RegisterGRPC(g)                    // inference.GRPCInferenceService
//	...
//	s.Shutdown(ctx) // on SIGTERM: drain, then close every plugin process
//
// # Requests
//
// Every model takes one input, either "input" (FP32, [N, ...] in
// PyTorch's layout, or INT64 for models of token ids) or "image" (BYTES,
// [N]: encoded JPEG, PNG, GIF, BMP or WebP images, preprocessed by the
// model's Transform exactly as gozoo extract does), and, for sequence
// models (Model.Lengths), an INT64 "lengths" input [N]. Outputs are named
// by PyTorch module path ("layer3.5.conv2", "avgpool"); a request's
// "outputs" picks any subset of the model's, and a request naming none
// gets the model's DefaultOutputs. GET /v2/models/{model} lists inputs and
// outputs with their shapes.
//
// Over REST, tensor data is JSON ("data": flat or nested numbers; BYTES
// as base64 strings) or, with Triton's binary-data extension, raw
// little-endian bytes after the JSON header, whose length the
// Inference-Header-Content-Length header gives; an input names its byte
// count in the parameter "binary_data_size", and an output asks for binary
// with "binary_data": true (or the request with "binary_data_output").
// Over gRPC, inputs come in contents or raw_input_contents and outputs go
// back in raw_output_contents, as Triton does.
//
// # Batching, queueing and failure
//
// Requests for a model wait in a queue of Model.MaxQueue; when it is full
// the server answers 503 with Retry-After (gRPC UNAVAILABLE) at once. A
// batcher takes the first waiting request, waits for a free instance,
// then gathers more requests of the same row shape for up to MaxDelay,
// up to MaxBatch rows, runs the union of the layers they ask for in one
// forward pass and splits the result. A request whose client went away or
// whose deadline passed is dropped before its batch runs; a batch whose
// clients have all gone is cancelled. A request the model refuses is run
// again alone so that it does not fail the requests batched with it.
//
// When a plugin process dies, the host restarts it and repeats the call,
// and the server repeats the batch once more if that was not enough, so
// clients see no error; the server watches each instance's process,
// reports a model ready only while one of its instances is up, and counts
// restarts. Shutdown makes readiness false at once, refuses new requests,
// lets accepted ones finish, then closes every instance.
//
// Bodies are limited (WithMaxBodyBytes), and every shape is checked
// against the data actually sent before anything is allocated, so a
// request claiming 1e12 elements costs nothing. Malformed requests get a
// 4xx answer whose message says what to fix.
//
// # Metrics
//
// Metrics serves, per model: gozoo_inference_request_success_total,
// gozoo_inference_request_failure_total, gozoo_inference_count_total
// (rows) and gozoo_inference_exec_count_total (forward passes; their ratio
// is the mean batch size), gozoo_queue_duration_seconds,
// gozoo_compute_duration_seconds and gozoo_request_duration_seconds
// histograms, gozoo_pending_requests, gozoo_ready_instances,
// gozoo_plugin_restarts_total, gozoo_inference_request_cancelled_total and
// gozoo_inference_request_rejected_total.
//
// A Server is safe for concurrent use.
package serve
