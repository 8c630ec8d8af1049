// Package ort runs ONNX models on ONNX Runtime. It is the only package in
// gozoo that imports github.com/yalue/onnxruntime_go; everything else sees
// sdk.Tensor values.
//
// The ONNX Runtime shared library (release 1.24 or newer) is loaded once per
// process from LibraryPath: $GOZOO_ORT_LIB, or the cache file that
// scripts/install-onnxruntime.sh (make setup) writes. A missing library
// makes every call fail with an error wrapping ErrLibraryNotFound that says
// how to install it; an older one fails with ErrLibraryVersion naming both
// versions.
//
// A Session wraps one model:
//
//	s, err := ort.NewSession(onnxBytes, ort.WithThreads(2), ort.WithDevice("cpu"))
//	if err != nil { ... }
//	defer s.Close()
//	out, err := s.Run(ctx, map[string]*sdk.Tensor{"input": x}, []string{"layer4"})
//
// Run is safe for concurrent use, returns outputs copied into Go memory,
// and stops when ctx is cancelled. GPU devices ("cuda", "cuda:N",
// "tensorrt") are used only when asked for; when the library or its CUDA
// dependencies are missing, NewSession fails with a *DeviceError matching
// sdk.ErrDeviceUnavailable instead of falling back to the CPU. Devices
// reports which execution providers the loaded library can use.
package ort
