//go:build unix

package onnx

import "syscall"

const syscallNonblock = syscall.O_NONBLOCK
