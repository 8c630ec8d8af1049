package sdk

import (
	"errors"
	"fmt"
	"testing"
)

func TestShapeErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  *ShapeError
		want string
	}{
		{&ShapeError{What: "input", Want: []int64{-1, 3, -1, -1}, Got: []int64{2, 1, 8, 8}},
			"input has shape [2, 1, 8, 8]; want [N, 3, *, *]"},
		{&ShapeError{What: "input", DType: Int64, WantDType: Float32, Want: []int64{-1, 3, -1, -1}, Got: []int64{2, 3, 8, 8}, Hint: "convert the input to float32"},
			"input (int64) has shape [2, 3, 8, 8]; want float32 [N, 3, *, *]: convert the input to float32"},
		{&ShapeError{What: "input (int64)", DType: Int64, Want: []int64{-1, 12}, Got: []int64{3}},
			"input (int64) has shape [3]; want [N, 12]"},
		{&ShapeError{What: "concat", Want: []int64{2, 3}, Got: []int64{2, 4}},
			"concat has shape [2, 4]; want [2, 3]"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q; want %q", got, tc.want)
		}
	}
	err := WithDTypes(&ShapeError{What: "input", Want: []int64{-1, 4}, Got: []int64{2, 5}}, Float32, Int64)
	if want := "input (float32) has shape [2, 5]; want int64 [N, 4]"; err.Error() != want || !errors.Is(err, ErrBadInput) {
		t.Errorf("WithDTypes = %q; want %q", err, want)
	}
	for _, other := range []error{errors.New("other"), fmt.Errorf("x: %w", &ShapeError{What: "input"})} {
		if WithDTypes(other, Float32, Int64) != other {
			t.Errorf("WithDTypes(%v) changed it", other)
		}
	}
}
