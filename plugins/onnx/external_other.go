//go:build !unix

package onnx

const syscallNonblock = 0
