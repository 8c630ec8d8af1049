package npy

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// ErrFormat is wrapped by every error about a malformed or unsupported
// .npy or .npz file.
var ErrFormat = errors.New("npy: bad file")

const magic = "\x93NUMPY"

// maxHeaderLen bounds the header dictionary; numpy itself refuses headers
// over 10000 bytes unless told otherwise.
const maxHeaderLen = 1 << 20

// header is a parsed .npy header.
type header struct {
	descr   string
	fortran bool
	shape   []int64
}

// dtype is a parsed descr.
type dtype struct {
	kind      byte // 'f', 'i', 'u' or 'b'
	size      int  // bytes per element
	bigEndian bool
}

func (d dtype) target() sdk.DType {
	if d.kind == 'f' {
		return sdk.Float32
	}
	return sdk.Int64
}

func formatErr(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrFormat}, args...)...)
}

// Read reads one .npy array from r. Float arrays become Float32 tensors,
// integer and bool arrays Int64 tensors; Fortran-order arrays are
// transposed to C order. It reads exactly the array's bytes, so several
// arrays may be read from one stream.
func Read(r io.Reader) (*sdk.Tensor, error) {
	return read(r, -1)
}

// read reads an array; limit, when non-negative, is how many bytes r holds
// in all, used to refuse a header that promises more.
func read(r io.Reader, limit int64) (*sdk.Tensor, error) {
	h, headerBytes, err := readHeader(r)
	if err != nil {
		return nil, err
	}
	dt, err := parseDescr(h.descr)
	if err != nil {
		return nil, err
	}
	n, err := checkedCount(h.shape)
	if err != nil {
		return nil, err
	}
	if n > 0 && int64(dt.size) > math.MaxInt/n {
		return nil, formatErr("shape %v of %s is too large", h.shape, h.descr)
	}
	need := n * int64(dt.size)
	if limit >= 0 && need > limit-headerBytes {
		return nil, formatErr("header promises %d bytes of data for shape %s of %s, the file holds %d: the file is truncated or damaged", need, sdk.FormatShape(h.shape), h.descr, max(limit-headerBytes, 0))
	}
	// bytes.Buffer grows with the data actually read, so a header that
	// lies about the shape cannot force a large allocation.
	var buf bytes.Buffer
	got, err := io.CopyN(&buf, r, need)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("npy: read data: %w", err)
	}
	if got != need {
		return nil, formatErr("header promises %d bytes of data for shape %s of %s, got %d: the file is truncated or damaged", need, sdk.FormatShape(h.shape), h.descr, got)
	}
	t := decode(buf.Bytes(), dt, h.shape)
	if h.fortran && len(h.shape) > 1 {
		t = fortranToC(t)
	}
	return t, nil
}

// checkedCount multiplies shape, refusing negative dimensions and overflow.
func checkedCount(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, formatErr("negative dimension in shape %v", shape)
		}
		hi, lo := bits.Mul64(uint64(n), uint64(d))
		if hi != 0 || lo > math.MaxInt64 {
			return 0, formatErr("shape %v is too large", shape)
		}
		n = int64(lo)
	}
	return n, nil
}

func readHeader(r io.Reader) (header, int64, error) {
	var pre [8]byte
	if _, err := io.ReadFull(r, pre[:]); err != nil {
		return header{}, 0, formatErr("not a .npy file: %v", err)
	}
	if string(pre[:6]) != magic {
		return header{}, 0, formatErr("not a .npy file (magic %q)", pre[:6])
	}
	major := pre[6]
	var hlen int64
	consumed := int64(8)
	switch major {
	case 1:
		var b [2]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return header{}, 0, formatErr("truncated header: %v", err)
		}
		hlen = int64(binary.LittleEndian.Uint16(b[:]))
		consumed += 2
	case 2, 3:
		var b [4]byte
		if _, err := io.ReadFull(r, b[:]); err != nil {
			return header{}, 0, formatErr("truncated header: %v", err)
		}
		hlen = int64(binary.LittleEndian.Uint32(b[:]))
		consumed += 4
	default:
		return header{}, 0, formatErr("unsupported .npy format version %d.%d", major, pre[7])
	}
	if hlen > maxHeaderLen {
		return header{}, 0, formatErr("header of %d bytes is too long", hlen)
	}
	hb := make([]byte, hlen)
	if _, err := io.ReadFull(r, hb); err != nil {
		return header{}, 0, formatErr("truncated header: %v", err)
	}
	h, err := parseHeader(string(hb))
	if err != nil {
		return header{}, 0, err
	}
	return h, consumed + hlen, nil
}

// parseHeader reads numpy's header dictionary, a Python literal such as
// {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }.
func parseHeader(s string) (header, error) {
	p := &parser{s: strings.TrimRight(s, " \n\x00")}
	var h header
	seen := map[string]bool{}
	if !p.eat('{') {
		return h, formatErr("header %q is not a dictionary", trunc(s))
	}
	for {
		if p.eat('}') {
			break
		}
		key, ok := p.str()
		if !ok || !p.eat(':') {
			return h, formatErr("cannot parse header %q", trunc(s))
		}
		switch key {
		case "descr":
			v, ok := p.str()
			if !ok {
				return h, formatErr("descr in header %q is not a plain string: structured dtypes are not supported", trunc(s))
			}
			h.descr = v
		case "fortran_order":
			v, ok := p.boolean()
			if !ok {
				return h, formatErr("fortran_order in header %q is not True or False", trunc(s))
			}
			h.fortran = v
		case "shape":
			v, ok := p.tuple()
			if !ok {
				return h, formatErr("shape in header %q is not a tuple of integers", trunc(s))
			}
			h.shape = v
		default:
			return h, formatErr("unknown key %q in header %q", key, trunc(s))
		}
		seen[key] = true
		if !p.eat(',') {
			if !p.eat('}') {
				return h, formatErr("cannot parse header %q", trunc(s))
			}
			break
		}
	}
	p.space()
	if p.i != len(p.s) {
		return h, formatErr("trailing bytes after header %q", trunc(s))
	}
	for _, k := range []string{"descr", "fortran_order", "shape"} {
		if !seen[k] {
			return h, formatErr("header %q lacks %s", trunc(s), k)
		}
	}
	return h, nil
}

func trunc(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}

type parser struct {
	s string
	i int
}

func (p *parser) space() {
	for p.i < len(p.s) && (p.s[p.i] == ' ' || p.s[p.i] == '\n' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *parser) eat(c byte) bool {
	p.space()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *parser) str() (string, bool) {
	p.space()
	if p.i >= len(p.s) || (p.s[p.i] != '\'' && p.s[p.i] != '"') {
		return "", false
	}
	q := p.s[p.i]
	end := strings.IndexByte(p.s[p.i+1:], q)
	if end < 0 {
		return "", false
	}
	v := p.s[p.i+1 : p.i+1+end]
	p.i += end + 2
	return v, true
}

func (p *parser) boolean() (bool, bool) {
	p.space()
	for _, w := range []struct {
		s string
		v bool
	}{{"True", true}, {"False", false}} {
		if strings.HasPrefix(p.s[p.i:], w.s) {
			p.i += len(w.s)
			return w.v, true
		}
	}
	return false, false
}

func (p *parser) tuple() ([]int64, bool) {
	if !p.eat('(') {
		return nil, false
	}
	shape := []int64{}
	for {
		if p.eat(')') {
			return shape, true
		}
		p.space()
		j := p.i
		for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
			j++
		}
		// numpy 1.x may write 3L on Python 2; accept the suffix.
		d, err := strconv.ParseInt(p.s[p.i:j], 10, 64)
		if err != nil {
			return nil, false
		}
		p.i = j
		if p.i < len(p.s) && p.s[p.i] == 'L' {
			p.i++
		}
		shape = append(shape, d)
		if !p.eat(',') {
			if !p.eat(')') {
				return nil, false
			}
			return shape, true
		}
	}
}

// parseDescr reads a numpy type string such as '<f4' or '|b1'.
func parseDescr(s string) (dtype, error) {
	unsupported := func() (dtype, error) {
		return dtype{}, formatErr("unsupported dtype %q: gozoo reads float16/32/64, int8-64, uint8-32 and bool; convert with arr.astype(np.float32) or np.int64", s)
	}
	if len(s) < 3 {
		return unsupported()
	}
	var d dtype
	switch s[0] {
	case '<', '|':
	case '=':
		// Native order; numpy writes '<' or '>' explicitly, '=' only
		// appears in hand-made files. Every platform gozoo runs on is
		// little-endian.
	case '>':
		d.bigEndian = true
	default:
		return unsupported()
	}
	d.kind = s[1]
	size, err := strconv.Atoi(s[2:])
	if err != nil {
		return unsupported()
	}
	d.size = size
	switch {
	case d.kind == 'f' && (size == 2 || size == 4 || size == 8):
	case d.kind == 'i' && (size == 1 || size == 2 || size == 4 || size == 8):
	case d.kind == 'u' && (size == 1 || size == 2 || size == 4):
	case d.kind == 'b' && size == 1:
	default:
		return unsupported()
	}
	return d, nil
}

// decode converts raw element bytes into a tensor.
func decode(b []byte, d dtype, shape []int64) *sdk.Tensor {
	var order binary.ByteOrder = binary.LittleEndian
	if d.bigEndian {
		order = binary.BigEndian
	}
	n := len(b) / d.size
	t := &sdk.Tensor{Shape: append([]int64{}, shape...)}
	if d.kind == 'f' {
		out := make([]float32, n)
		for i := range out {
			e := b[i*d.size:]
			switch d.size {
			case 2:
				out[i] = halfToFloat(order.Uint16(e))
			case 4:
				out[i] = math.Float32frombits(order.Uint32(e))
			case 8:
				out[i] = float32(math.Float64frombits(order.Uint64(e)))
			}
		}
		t.Float32 = out
		return t
	}
	out := make([]int64, n)
	for i := range out {
		e := b[i*d.size:]
		switch {
		case d.size == 1 && d.kind == 'i':
			out[i] = int64(int8(e[0]))
		case d.size == 1 && d.kind == 'b':
			if e[0] != 0 {
				out[i] = 1
			}
		case d.size == 1:
			out[i] = int64(e[0])
		case d.size == 2 && d.kind == 'i':
			out[i] = int64(int16(order.Uint16(e)))
		case d.size == 2:
			out[i] = int64(order.Uint16(e))
		case d.size == 4 && d.kind == 'i':
			out[i] = int64(int32(order.Uint32(e)))
		case d.size == 4:
			out[i] = int64(order.Uint32(e))
		case d.size == 8:
			out[i] = int64(order.Uint64(e))
		}
	}
	t.Int64 = out
	return t
}

// halfToFloat converts an IEEE 754 binary16 value.
func halfToFloat(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	frac := uint32(h) & 0x3ff
	switch {
	case exp == 0 && frac == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		f := float32(frac) / (1 << 24)
		if sign != 0 {
			f = -f
		}
		return f
	case exp == 0x1f:
		return math.Float32frombits(sign | 0x7f800000 | frac<<13)
	}
	return math.Float32frombits(sign | (exp+112)<<23 | frac<<13)
}

// fortranToC reorders a tensor whose elements are in column-major order.
func fortranToC(t *sdk.Tensor) *sdk.Tensor {
	shape := t.Shape
	rank := len(shape)
	n := t.Len()
	// Fortran strides (in elements) of each dimension.
	fstride := make([]int, rank)
	s := 1
	for i := 0; i < rank; i++ {
		fstride[i] = s
		s *= int(shape[i])
	}
	idx := make([]int, rank)
	out := &sdk.Tensor{Shape: shape}
	if t.Float32 != nil {
		out.Float32 = make([]float32, n)
	} else {
		out.Int64 = make([]int64, n)
	}
	for c := 0; c < n; c++ {
		f := 0
		for i := range idx {
			f += idx[i] * fstride[i]
		}
		if t.Float32 != nil {
			out.Float32[c] = t.Float32[f]
		} else {
			out.Int64[c] = t.Int64[f]
		}
		for i := rank - 1; i >= 0; i-- {
			idx[i]++
			if idx[i] < int(shape[i]) {
				break
			}
			idx[i] = 0
		}
	}
	return out
}

// Write writes t to w as a version 1.0 .npy array ('<f4' or '<i8', C
// order), or version 2.0 when the header needs it.
func Write(w io.Writer, t *sdk.Tensor) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("npy: write: %w", err)
	}
	descr := "<f4"
	if t.DType() == sdk.Int64 {
		descr = "<i8"
	}
	var shape strings.Builder
	shape.WriteByte('(')
	for i, d := range t.Shape {
		if i > 0 {
			shape.WriteString(", ")
		}
		shape.WriteString(strconv.FormatInt(d, 10))
	}
	if len(t.Shape) == 1 {
		shape.WriteByte(',')
	}
	shape.WriteByte(')')
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': %s, }", descr, shape.String())
	// Pad so that the data starts at a multiple of 64 bytes; format 2.0
	// only when the header outgrows 1.0's 16-bit length.
	version, lenSize := byte(1), 2
	hdr := padHeader(dict, len(magic)+2+lenSize)
	if len(hdr) > math.MaxUint16 {
		version, lenSize = 2, 4
		hdr = padHeader(dict, len(magic)+2+lenSize)
	}

	bw := bufio.NewWriterSize(w, 1<<16)
	bw.WriteString(magic)
	bw.WriteByte(version)
	bw.WriteByte(0)
	if version == 1 {
		binary.Write(bw, binary.LittleEndian, uint16(len(hdr)))
	} else {
		binary.Write(bw, binary.LittleEndian, uint32(len(hdr)))
	}
	bw.WriteString(hdr)
	var buf [8]byte
	if t.DType() == sdk.Int64 {
		for _, v := range t.Int64 {
			binary.LittleEndian.PutUint64(buf[:], uint64(v))
			bw.Write(buf[:8])
		}
	} else {
		for _, v := range t.Float32 {
			binary.LittleEndian.PutUint32(buf[:], math.Float32bits(v))
			bw.Write(buf[:4])
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("npy: write: %w", err)
	}
	return nil
}

func padHeader(dict string, prefix int) string {
	pad := (64 - (prefix+len(dict)+1)%64) % 64
	return dict + strings.Repeat(" ", pad) + "\n"
}

// ReadFile reads a .npy file.
func ReadFile(path string) (*sdk.Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("npy: %w", err)
	}
	t, err := read(bufio.NewReaderSize(f, 1<<16), st.Size())
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return t, nil
}

// WriteFile writes t to path as a .npy file. It writes a temporary file in
// the same directory and renames it over path, so path holds either the
// old contents or the complete new array, never a partial one.
func WriteFile(path string, t *sdk.Tensor) error {
	return atomicWrite(path, func(w io.Writer) error { return Write(w, t) })
}

// atomicWrite writes path through a temporary file and a rename.
func atomicWrite(path string, write func(io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("npy: %w", err)
	}
	return nil
}
