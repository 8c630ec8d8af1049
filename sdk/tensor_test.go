package sdk

import (
	"errors"
	"reflect"
	"testing"
)

func TestConcat(t *testing.T) {
	a, _ := NewInt64Tensor([]int64{1, 2}, []int64{1, 2})
	b, _ := NewInt64Tensor([]int64{2, 2}, []int64{3, 4, 5, 6})
	empty := &Tensor{Shape: []int64{0, 2}, Int64: []int64{}}
	got, err := Concat([]*Tensor{a, empty, b})
	want, _ := NewInt64Tensor([]int64{3, 2}, []int64{1, 2, 3, 4, 5, 6})
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("Concat(int64) = %v, %v; want %v", got, err, want)
	}
	// Rows of nothing keep their dtype.
	if got, err := Concat([]*Tensor{empty, empty}); err != nil || got.DType() != Int64 || got.Shape[0] != 0 {
		t.Errorf("Concat(empty int64) = %+v, %v; want an int64 [0, 2] tensor", got, err)
	}
	f := Zeros(2, 2)
	for name, ts := range map[string][]*Tensor{
		"none":             nil,
		"scalar first":     {{Float32: []float32{1}}},
		"scalar later":     {f, {Float32: []float32{1}}},
		"nil later":        {f, nil},
		"short data":       {f, {Shape: []int64{2, 2}, Float32: []float32{1}}},
		"dtype":            {f, a},
		"trailing dims":    {f, Zeros(2, 3)},
		"rank":             {f, Zeros(2, 2, 1)},
		"both dtypes held": {f, {Shape: []int64{1, 2}, Float32: []float32{1, 2}, Int64: []int64{1, 2}}},
	} {
		if got, err := Concat(ts); !errors.Is(err, ErrBadInput) {
			t.Errorf("Concat(%s) = %v, %v; want ErrBadInput", name, got, err)
		}
	}
	_, err = Concat([]*Tensor{f, a})
	if want := "concat (int64) has shape [1, 2]; want float32 [2, 2]"; err == nil || err.Error() != want {
		t.Errorf("Concat(float32, int64) = %v; want %q", err, want)
	}
}

// concatParts returns n float32 tensors of shape [rows, width].
func concatParts(n, rows, width int) []*Tensor {
	ts := make([]*Tensor, n)
	for i := range ts {
		ts[i] = Zeros(int64(rows), int64(width))
	}
	return ts
}

// BenchmarkConcat joins 16 batches of [8, 512] float32 rows, as the host
// joins a batched extract's outputs.
func BenchmarkConcat(b *testing.B) {
	ts := concatParts(16, 8, 512)
	b.ReportAllocs()
	b.SetBytes(16 * 8 * 512 * 4)
	for b.Loop() {
		if _, err := Concat(ts); err != nil {
			b.Fatal(err)
		}
	}
}
