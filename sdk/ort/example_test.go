package ort_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

// testdata/affine.onnx computes y = 2x + 1 over x: [N, 3].
func ExampleNewSession() {
	model, err := os.ReadFile("testdata/affine.onnx")
	if err != nil {
		log.Fatal(err)
	}
	s, err := ort.NewSession(model, ort.WithThreads(1), ort.WithDevice("cpu"))
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	fmt.Println(s.InputNames(), s.OutputNames())
	// Output: [x] [y]
}

func ExampleSession_Run() {
	model, err := os.ReadFile("testdata/affine.onnx")
	if err != nil {
		log.Fatal(err)
	}
	s, err := ort.NewSession(model)
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	x, _ := sdk.NewTensor([]int64{2, 3}, []float32{0, 1, 2, 3, 4, 5})
	out, err := s.Run(context.Background(), map[string]*sdk.Tensor{"x": x}, []string{"y"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(out["y"].Shape, out["y"].Float32)
	// Output: [2 3] [1 3 5 7 9 11]
}

func ExampleVersion() {
	v, err := ort.Version()
	if err != nil {
		log.Fatal(err) // ort.ErrLibraryNotFound: run make setup
	}
	fmt.Println(v >= ort.MinVersion)
	// Output: true
}

func ExampleDevices() {
	for _, d := range ort.Devices() {
		if d.Device == "cpu" {
			fmt.Println(d.Device, d.Provider, d.Available)
		}
	}
	// Output: cpu CPUExecutionProvider true
}
