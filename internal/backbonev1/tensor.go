package backbonev1

import (
	"encoding/binary"
	"fmt"
	"math"
	"unsafe"

	"github.com/gozoo/gozoo/sdk"
)

// nativeLittle reports whether this machine stores numbers little-endian,
// which lets tensors travel without a per-element conversion.
var nativeLittle = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// TensorBytes returns t's elements as little-endian bytes. On a
// little-endian machine the result shares memory with t: do not modify it.
func TensorBytes(t *sdk.Tensor) []byte {
	if t.Int64 != nil {
		if nativeLittle && len(t.Int64) > 0 {
			return unsafe.Slice((*byte)(unsafe.Pointer(&t.Int64[0])), len(t.Int64)*8)
		}
		b := make([]byte, len(t.Int64)*8)
		for i, v := range t.Int64 {
			binary.LittleEndian.PutUint64(b[i*8:], uint64(v))
		}
		return b
	}
	if nativeLittle && len(t.Float32) > 0 {
		return unsafe.Slice((*byte)(unsafe.Pointer(&t.Float32[0])), len(t.Float32)*4)
	}
	b := make([]byte, len(t.Float32)*4)
	for i, v := range t.Float32 {
		binary.LittleEndian.PutUint32(b[i*4:], math.Float32bits(v))
	}
	return b
}

// Chunks splits t into wire chunks of at most chunkBytes payload each
// (ChunkBytes when chunkBytes <= 0), named name. A tensor with no elements
// is one empty chunk. The chunks share memory with t until they are sent.
func Chunks(name string, t *sdk.Tensor, chunkBytes int) ([]*TensorChunk, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	if chunkBytes <= 0 {
		chunkBytes = ChunkBytes
	}
	b := TensorBytes(t)
	dt := DTypeToProto(t.DType())
	var out []*TensorChunk
	for off := 0; off < len(b) || off == 0; off += chunkBytes {
		end := min(off+chunkBytes, len(b))
		out = append(out, &TensorChunk{Name: name, Dtype: dt, Shape: t.Shape, Offset: int64(off), Data: b[off:end]})
		if end == len(b) {
			break
		}
	}
	return out, nil
}

// Assembler rebuilds one tensor from its chunks, which must arrive in order.
// The zero value is ready to use.
type Assembler struct {
	t    *sdk.Tensor
	buf  []byte // the tensor's bytes, aliasing t's elements when native
	size int64  // elements * element size
	have int64
}

// Add takes the next chunk and reports whether the tensor is complete.
// Chunks that disagree with the first one on dtype or shape, or arrive out
// of order, are errors wrapping sdk.ErrBadInput, and so are chunks that
// reference a file (read those with ReadTensorFile).
func (a *Assembler) Add(c *TensorChunk) (bool, error) {
	if c.GetFile() != nil {
		return false, fmt.Errorf("%w: tensor chunk names file %q where inline data was expected", sdk.ErrBadInput, c.GetFile().GetPath())
	}
	if a.t == nil {
		if err := a.start(c); err != nil {
			return false, err
		}
	} else if c.GetDtype() != DTypeToProto(a.t.DType()) || !sdk.EqualShape(c.GetShape(), a.t.Shape) {
		return false, fmt.Errorf("%w: tensor chunk %s %s disagrees with the first chunk %s %s",
			sdk.ErrBadInput, DTypeFromProto(c.GetDtype()), sdk.FormatShape(c.GetShape()), a.t.DType(), sdk.FormatShape(a.t.Shape))
	}
	if c.GetOffset() != a.have {
		return false, fmt.Errorf("%w: tensor chunk at byte %d, want %d: chunks must arrive in order", sdk.ErrBadInput, c.GetOffset(), a.have)
	}
	if a.have+int64(len(c.GetData())) > a.size {
		return false, fmt.Errorf("%w: tensor chunks hold more than the %d bytes shape %s needs", sdk.ErrBadInput, a.size, sdk.FormatShape(a.t.Shape))
	}
	copy(a.buf[a.have:], c.GetData())
	a.have += int64(len(c.GetData()))
	return a.have == a.size, nil
}

// tensorSize returns the element count and byte size of a dense tensor of
// dtype dt and the given shape, or an error wrapping sdk.ErrBadInput when
// the dtype is unknown or the shape negative or absurdly large.
func tensorSize(dt DType, shape []int64) (n, size int64, err error) {
	n = 1
	for _, d := range shape {
		if d < 0 || (d > 0 && n > math.MaxInt32*int64(256)/d) {
			return 0, 0, fmt.Errorf("%w: tensor shape %s is negative or too large", sdk.ErrBadInput, sdk.FormatShape(shape))
		}
		n *= d
	}
	switch dt {
	case DType_DTYPE_FLOAT32:
		return n, n * 4, nil
	case DType_DTYPE_INT64:
		return n, n * 8, nil
	}
	return 0, 0, fmt.Errorf("%w: tensor dtype %s is not float32 or int64", sdk.ErrBadInput, dt)
}

func (a *Assembler) start(c *TensorChunk) error {
	n, size, err := tensorSize(c.GetDtype(), c.GetShape())
	if err != nil {
		return err
	}
	shape := append([]int64{}, c.GetShape()...)
	if c.GetDtype() == DType_DTYPE_INT64 {
		a.t = &sdk.Tensor{Shape: shape, Int64: make([]int64, n)}
	} else {
		a.t = &sdk.Tensor{Shape: shape, Float32: make([]float32, n)}
	}
	a.size = size
	if nativeLittle {
		a.buf = TensorBytes(a.t)
	} else {
		a.buf = make([]byte, a.size)
	}
	return nil
}

// Tensor returns the complete tensor, or an error wrapping sdk.ErrBadInput
// when chunks are missing.
func (a *Assembler) Tensor() (*sdk.Tensor, error) {
	if a.t == nil {
		return nil, fmt.Errorf("%w: no tensor data received", sdk.ErrBadInput)
	}
	if a.have != a.size {
		return nil, fmt.Errorf("%w: tensor %s got %d of %d bytes", sdk.ErrBadInput, sdk.FormatShape(a.t.Shape), a.have, a.size)
	}
	if !nativeLittle && len(a.buf) > 0 {
		if a.t.Int64 != nil {
			for i := range a.t.Int64 {
				a.t.Int64[i] = int64(binary.LittleEndian.Uint64(a.buf[i*8:]))
			}
		} else {
			for i := range a.t.Float32 {
				a.t.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(a.buf[i*4:]))
			}
		}
		a.buf = nil
	}
	return a.t, nil
}

// Outputs rebuilds a set of named tensors from interleaved or sequential
// chunks, as an Extract stream delivers them, and tensors read whole
// (Set).
type Outputs struct {
	parts map[string]*Assembler
	whole map[string]*sdk.Tensor
}

// Set records the complete tensor t under name, for an output that came
// as a file. A name given twice, or also sent in chunks, is an error
// wrapping sdk.ErrBadInput.
func (o *Outputs) Set(name string, t *sdk.Tensor) error {
	if _, dup := o.parts[name]; dup {
		return fmt.Errorf("%w: output %q sent twice", sdk.ErrBadInput, name)
	}
	if _, dup := o.whole[name]; dup {
		return fmt.Errorf("%w: output %q sent twice", sdk.ErrBadInput, name)
	}
	if o.whole == nil {
		o.whole = map[string]*sdk.Tensor{}
	}
	o.whole[name] = t
	return nil
}

// Add takes one chunk of the tensor chunk.Name.
func (o *Outputs) Add(c *TensorChunk) error {
	if o.parts == nil {
		o.parts = map[string]*Assembler{}
	}
	if _, dup := o.whole[c.GetName()]; dup {
		return fmt.Errorf("%w: output %q sent twice", sdk.ErrBadInput, c.GetName())
	}
	a := o.parts[c.GetName()]
	if a == nil {
		a = &Assembler{}
		o.parts[c.GetName()] = a
	}
	_, err := a.Add(c)
	if err != nil {
		return fmt.Errorf("output %q: %w", c.GetName(), err)
	}
	return nil
}

// Tensors returns every complete tensor by name, or an error when one is
// incomplete.
func (o *Outputs) Tensors() (map[string]*sdk.Tensor, error) {
	out := make(map[string]*sdk.Tensor, len(o.parts)+len(o.whole))
	for name, t := range o.whole {
		out[name] = t
	}
	for name, a := range o.parts {
		t, err := a.Tensor()
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}
