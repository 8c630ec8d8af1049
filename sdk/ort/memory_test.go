package ort

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

// TestMemoryArena runs the affine model with the CPU arena on and off and
// checks that conflicting settings are refused.
func TestMemoryArena(t *testing.T) {
	model, err := os.ReadFile("testdata/affine.onnx")
	if err != nil {
		t.Fatal(err)
	}
	x, _ := sdk.NewTensor([]int64{2, 3}, []float32{0, 1, 2, 3, 4, 5})
	for _, on := range []bool{true, false} {
		s, err := NewSession(model, WithMemoryArena(on), WithThreads(1))
		if err != nil {
			t.Fatalf("NewSession(WithMemoryArena(%v)) = %v", on, err)
		}
		out, err := s.Run(context.Background(), map[string]*sdk.Tensor{s.InputNames()[0]: x}, nil)
		if err != nil {
			t.Fatalf("Run with arena %v = %v", on, err)
		}
		for _, y := range out {
			for i, v := range y.Float32 {
				if want := 2*x.Float32[i] + 1; v != want {
					t.Errorf("arena %v: y[%d] = %v; want %v", on, i, v, want)
				}
			}
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewSession(model, WithMemoryArena(true), WithMemoryArena(false)); !errors.Is(err, sdk.ErrBadOption) {
		t.Errorf("NewSession(arena on and off) = %v; want ErrBadOption", err)
	}
}

// TestOutputSubsetsOff checks that a session without subset sessions
// still answers any subset of outputs, from full runs.
func TestOutputSubsetsOff(t *testing.T) {
	model, err := os.ReadFile("testdata/affine.onnx")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSession(model, WithOutputSubsets(false), WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	x, _ := sdk.NewTensor([]int64{1, 3}, []float32{1, 2, 3})
	for _, outs := range [][]string{nil, s.OutputNames()} {
		out, err := s.Run(context.Background(), map[string]*sdk.Tensor{s.InputNames()[0]: x}, outs)
		if err != nil || len(out) != len(s.OutputNames()) {
			t.Fatalf("Run(%v) = %v, %v", outs, out, err)
		}
	}
	if _, err := NewSession(model, WithOutputSubsets(false), WithOutputSubsets(true)); !errors.Is(err, sdk.ErrBadOption) {
		t.Errorf("NewSession(subsets off and on) = %v; want ErrBadOption", err)
	}
}
