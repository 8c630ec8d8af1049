package bridge

import (
	"encoding/binary"
	"math"
)

// dtype is an element type found in checkpoint files. Floating types
// become float32 tensors, integer and bool types int64 tensors.
type dtype int8

const (
	dtF32 dtype = iota + 1
	dtF16
	dtBF16
	dtF64
	dtI64
	dtI32
	dtI16
	dtI8
	dtU8
	dtBool
)

func (d dtype) size() int64 {
	switch d {
	case dtF64, dtI64:
		return 8
	case dtF32, dtI32:
		return 4
	case dtF16, dtBF16, dtI16:
		return 2
	}
	return 1
}

func (d dtype) isFloat() bool { return d <= dtF64 }

// safetensorsName is the dtype's name in a safetensors header.
func (d dtype) safetensorsName() string {
	return [...]string{dtF32: "F32", dtF16: "F16", dtBF16: "BF16", dtF64: "F64", dtI64: "I64",
		dtI32: "I32", dtI16: "I16", dtI8: "I8", dtU8: "U8", dtBool: "BOOL"}[d]
}

var safetensorsDTypes = map[string]dtype{
	"F32": dtF32, "F16": dtF16, "BF16": dtBF16, "F64": dtF64, "I64": dtI64,
	"I32": dtI32, "I16": dtI16, "I8": dtI8, "U8": dtU8, "BOOL": dtBool,
}

// torchStorages maps the storage classes torch pickles to their dtypes.
var torchStorages = map[string]dtype{
	"FloatStorage": dtF32, "HalfStorage": dtF16, "BFloat16Storage": dtBF16,
	"DoubleStorage": dtF64, "LongStorage": dtI64, "IntStorage": dtI32,
	"ShortStorage": dtI16, "CharStorage": dtI8, "ByteStorage": dtU8, "BoolStorage": dtBool,
}

// decodeFloats converts the little-endian elements at idx (or, when idx is
// nil, all of raw) to float32.
func decodeFloats(d dtype, raw []byte, idx []int64, n int64) []float32 {
	out := make([]float32, n)
	at := func(i int64) int64 {
		if idx == nil {
			return i
		}
		return idx[i]
	}
	switch d {
	case dtF32:
		if idx == nil {
			for i := range out {
				out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
			break
		}
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*at(int64(i)):]))
		}
	case dtF16:
		for i := range out {
			out[i] = halfToFloat(binary.LittleEndian.Uint16(raw[2*at(int64(i)):]))
		}
	case dtBF16:
		for i := range out {
			out[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(raw[2*at(int64(i)):])) << 16)
		}
	case dtF64:
		for i := range out {
			out[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(raw[8*at(int64(i)):])))
		}
	}
	return out
}

// decodeInts converts integer or bool elements to int64, like decodeFloats.
func decodeInts(d dtype, raw []byte, idx []int64, n int64) []int64 {
	out := make([]int64, n)
	for i := range out {
		j := int64(i)
		if idx != nil {
			j = idx[i]
		}
		switch d {
		case dtI64:
			out[i] = int64(binary.LittleEndian.Uint64(raw[8*j:]))
		case dtI32:
			out[i] = int64(int32(binary.LittleEndian.Uint32(raw[4*j:])))
		case dtI16:
			out[i] = int64(int16(binary.LittleEndian.Uint16(raw[2*j:])))
		case dtI8:
			out[i] = int64(int8(raw[j]))
		case dtU8, dtBool:
			out[i] = int64(raw[j])
		}
	}
	return out
}

// halfToFloat converts an IEEE 754 binary16 value exactly.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0x1f: // inf, NaN
		return math.Float32frombits(sign | 0xff<<23 | frac<<13)
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal: value = frac * 2^-24
		f := float32(frac) * (1.0 / (1 << 24))
		if sign != 0 {
			f = -f
		}
		return f
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}
