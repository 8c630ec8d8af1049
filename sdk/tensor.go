package sdk

import (
	"fmt"
	"strconv"
	"strings"
)

// DType is the element type of a Tensor.
type DType int8

// The element types a Tensor can hold.
const (
	Float32 DType = iota + 1
	Int64
)

// String returns the numpy name of d ("float32", "int64").
func (d DType) String() string {
	switch d {
	case Float32:
		return "float32"
	case Int64:
		return "int64"
	}
	return "dtype(" + strconv.Itoa(int(d)) + ")"
}

// Tensor is a dense, row-major (C-order) n-dimensional array. Exactly one of
// Float32 and Int64 holds the elements; its length equals the product of
// Shape. A scalar has an empty Shape and one element.
//
// Tensors are plain values: they are not safe for concurrent mutation, and
// the slice-returning methods share memory with the receiver.
type Tensor struct {
	Shape   []int64
	Float32 []float32
	Int64   []int64
}

// NewTensor returns a float32 tensor of the given shape over data, checking
// that the sizes agree. It does not copy data.
func NewTensor(shape []int64, data []float32) (*Tensor, error) {
	t := &Tensor{Shape: append([]int64(nil), shape...), Float32: data}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// NewInt64Tensor returns an int64 tensor of the given shape over data,
// checking that the sizes agree. It does not copy data.
func NewInt64Tensor(shape []int64, data []int64) (*Tensor, error) {
	t := &Tensor{Shape: append([]int64(nil), shape...), Int64: data}
	if err := t.Validate(); err != nil {
		return nil, err
	}
	return t, nil
}

// Zeros returns a zero-filled float32 tensor of the given shape.
func Zeros(shape ...int64) *Tensor {
	return &Tensor{Shape: append([]int64(nil), shape...), Float32: make([]float32, NumElements(shape))}
}

// NumElements returns the product of shape (1 for a scalar). A negative
// (symbolic) dimension makes the result negative.
func NumElements(shape []int64) int64 {
	n := int64(1)
	for _, d := range shape {
		n *= d
	}
	return n
}

// DType reports which element slice t holds. A tensor holding neither is
// reported as Float32 when it has zero elements.
func (t *Tensor) DType() DType {
	if t.Int64 != nil {
		return Int64
	}
	return Float32
}

// Len returns the number of elements held.
func (t *Tensor) Len() int {
	if t.Int64 != nil {
		return len(t.Int64)
	}
	return len(t.Float32)
}

// Validate reports whether t is well formed: non-negative dimensions, one
// element slice, and as many elements as Shape says.
func (t *Tensor) Validate() error {
	if t == nil {
		return fmt.Errorf("%w: nil tensor", ErrBadInput)
	}
	if t.Float32 != nil && t.Int64 != nil {
		return fmt.Errorf("%w: tensor holds both float32 and int64 data", ErrBadInput)
	}
	for _, d := range t.Shape {
		if d < 0 {
			return fmt.Errorf("%w: tensor shape %s has a negative dimension", ErrBadInput, FormatShape(t.Shape))
		}
	}
	if n := NumElements(t.Shape); int64(t.Len()) != n {
		return fmt.Errorf("%w: tensor shape %s needs %d elements, has %d", ErrBadInput, FormatShape(t.Shape), n, t.Len())
	}
	return nil
}

// Rows returns rows [i, j) of t along its first dimension, sharing memory
// with t.
func (t *Tensor) Rows(i, j int64) (*Tensor, error) {
	if len(t.Shape) == 0 {
		return nil, fmt.Errorf("%w: cannot take rows of a scalar", ErrBadInput)
	}
	if i < 0 || j < i || j > t.Shape[0] {
		return nil, fmt.Errorf("%w: rows [%d,%d) out of range for shape %s", ErrBadInput, i, j, FormatShape(t.Shape))
	}
	row := NumElements(t.Shape[1:])
	shape := append([]int64{j - i}, t.Shape[1:]...)
	out := &Tensor{Shape: shape}
	if t.Int64 != nil {
		out.Int64 = t.Int64[i*row : j*row]
	} else {
		out.Float32 = t.Float32[i*row : j*row]
	}
	return out, nil
}

// Concat joins tensors along their first dimension. All must be valid
// (see Validate) and share dtype and trailing dimensions. The result is a
// new tensor, allocated once at its full size.
func Concat(ts []*Tensor) (*Tensor, error) {
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: concat of no tensors", ErrBadInput)
	}
	first := ts[0]
	if first == nil || len(first.Shape) == 0 {
		return nil, fmt.Errorf("%w: concat needs tensors with a first dimension, not a scalar or nil", ErrBadInput)
	}
	out := &Tensor{Shape: append([]int64{0}, first.Shape[1:]...)}
	n := 0
	for i, t := range ts {
		if err := t.Validate(); err != nil {
			return nil, fmt.Errorf("concat tensor %d: %w", i, err)
		}
		if t.DType() != first.DType() {
			return nil, &ShapeError{What: "concat", Want: first.Shape, Got: t.Shape, DType: t.DType(), WantDType: first.DType()}
		}
		if len(t.Shape) == 0 || !EqualShape(t.Shape[1:], first.Shape[1:]) {
			return nil, &ShapeError{What: "concat", Want: first.Shape, Got: t.Shape}
		}
		out.Shape[0] += t.Shape[0]
		n += t.Len()
	}
	if first.DType() == Int64 {
		out.Int64 = make([]int64, 0, n)
		for _, t := range ts {
			out.Int64 = append(out.Int64, t.Int64...)
		}
	} else {
		out.Float32 = make([]float32, 0, n)
		for _, t := range ts {
			out.Float32 = append(out.Float32, t.Float32...)
		}
	}
	return out, nil
}

// EqualShape reports whether a and b have the same dimensions.
func EqualShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// FormatShape writes a shape the way PyTorch prints it: [N, 3, 224, 224],
// with "N" for the first symbolic (negative) dimension, the batch, and "*"
// for any later one, a size free to vary ([N, 3, *, *]).
func FormatShape(shape []int64) string {
	var b strings.Builder
	b.WriteByte('[')
	batch := false
	for i, d := range shape {
		if i > 0 {
			b.WriteString(", ")
		}
		if d < 0 {
			if batch {
				b.WriteByte('*')
			} else {
				b.WriteByte('N')
				batch = true
			}
		} else {
			b.WriteString(strconv.FormatInt(d, 10))
		}
	}
	b.WriteByte(']')
	return b.String()
}
