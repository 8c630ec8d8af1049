package bridge

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/gozoo/gozoo/sdk"
)

// maxSafetensorsHeader is the header size limit of the reference
// safetensors implementation (100 MB).
const maxSafetensorsHeader = 100_000_000

type stEntry struct {
	name       string
	DType      string  `json:"dtype"`
	Shape      []int64 `json:"shape"`
	Offsets    []int64 `json:"data_offsets"`
	dt         dtype
	begin, end int64
}

// ReadSafetensors reads a .safetensors file: an 8-byte little-endian
// header length, a JSON header and the raw tensor bytes. It accepts the
// dtypes F32, F16, BF16, F64 (as float32 tensors) and I64, I32, I16, I8,
// U8, BOOL (as int64 tensors), and checks the header as the reference
// implementation does: its size limit, every tensor's byte range against
// its shape and dtype, ranges inside the file, without overlaps or gaps.
// Keys keep the header's order; __metadata__ becomes sd.Metadata.
func ReadSafetensors(r io.ReaderAt, size int64) (*StateDict, error) {
	if size < 8 {
		return nil, fmt.Errorf("%w: safetensors file of %d bytes is shorter than its header length", ErrCorrupt, size)
	}
	var lenb [8]byte
	if _, err := r.ReadAt(lenb[:], 0); err != nil {
		return nil, fmt.Errorf("read safetensors header: %w", err)
	}
	hlen := binary.LittleEndian.Uint64(lenb[:])
	if hlen > maxSafetensorsHeader {
		return nil, fmt.Errorf("%w: safetensors header length %d exceeds the %d byte limit", ErrCorrupt, hlen, maxSafetensorsHeader)
	}
	if hlen > uint64(size-8) {
		return nil, fmt.Errorf("%w: safetensors header of %d bytes runs past the end of the %d byte file: re-download it", ErrCorrupt, hlen, size)
	}
	header := make([]byte, hlen)
	if _, err := r.ReadAt(header, 8); err != nil {
		return nil, fmt.Errorf("read safetensors header: %w", err)
	}
	entries, meta, err := parseSafetensorsHeader(header)
	if err != nil {
		return nil, err
	}
	dataLen := size - 8 - int64(hlen)
	sorted := append([]*stEntry(nil), entries...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].begin < sorted[j].begin })
	var prev *stEntry
	at := int64(0)
	for _, e := range sorted {
		if e.end > dataLen {
			return nil, fmt.Errorf("%w: safetensors tensor %q ends at byte %d, past the %d data bytes: the file is truncated or damaged",
				ErrCorrupt, e.name, e.end, dataLen)
		}
		if e.begin < at {
			return nil, fmt.Errorf("%w: safetensors tensors %q and %q overlap", ErrCorrupt, prev.name, e.name)
		}
		if e.begin > at {
			return nil, fmt.Errorf("%w: safetensors data has unused bytes [%d, %d) before tensor %q", ErrCorrupt, at, e.begin, e.name)
		}
		at, prev = e.end, e
	}
	if at != dataLen {
		return nil, fmt.Errorf("%w: safetensors data has %d bytes after its last tensor", ErrCorrupt, dataLen-at)
	}
	sd := &StateDict{Tensors: make(map[string]*sdk.Tensor, len(entries)), Metadata: meta}
	base := 8 + int64(hlen)
	for _, e := range entries {
		raw := make([]byte, e.end-e.begin)
		if _, err := r.ReadAt(raw, base+e.begin); err != nil {
			return nil, fmt.Errorf("read safetensors tensor %q: %w", e.name, err)
		}
		n := sdk.NumElements(e.Shape)
		t := &sdk.Tensor{Shape: append([]int64{}, e.Shape...)}
		if e.dt.isFloat() {
			t.Float32 = decodeFloats(e.dt, raw, nil, n)
		} else {
			t.Int64 = decodeInts(e.dt, raw, nil, n)
		}
		sd.Keys = append(sd.Keys, e.name)
		sd.Tensors[e.name] = t
	}
	return sd, nil
}

func parseSafetensorsHeader(header []byte) ([]*stEntry, map[string]string, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: safetensors header: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, bad("not a JSON object")
	}
	var entries []*stEntry
	var meta map[string]string
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, bad("%v", err)
		}
		name, _ := tok.(string)
		if seen[name] {
			return nil, nil, bad("key %q appears twice", name)
		}
		seen[name] = true
		if name == "__metadata__" {
			if err := dec.Decode(&meta); err != nil {
				return nil, nil, bad("__metadata__ must map strings to strings: %v", err)
			}
			continue
		}
		e := &stEntry{name: name}
		if err := dec.Decode(e); err != nil {
			return nil, nil, bad("tensor %q: %v", name, err)
		}
		dt, ok := safetensorsDTypes[e.DType]
		if !ok {
			return nil, nil, fmt.Errorf("%w: safetensors tensor %q has dtype %q; supported: F32, F16, BF16, F64, I64, I32, I16, I8, U8, BOOL",
				ErrUnsupported, name, e.DType)
		}
		e.dt = dt
		if len(e.Offsets) != 2 || e.Offsets[0] < 0 || e.Offsets[1] < e.Offsets[0] {
			return nil, nil, bad("tensor %q has data_offsets %v; want [begin, end] with 0 <= begin <= end", name, e.Offsets)
		}
		e.begin, e.end = e.Offsets[0], e.Offsets[1]
		n := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d != 0 && n > maxElements/d) {
				return nil, nil, bad("tensor %q has shape %v", name, e.Shape)
			}
			n *= d
		}
		if e.Shape == nil {
			e.Shape = []int64{}
		}
		if want := n * dt.size(); e.end-e.begin != want {
			return nil, nil, bad("tensor %q of shape %s and dtype %s needs %d bytes but data_offsets %v span %d",
				name, sdk.FormatShape(e.Shape), e.DType, want, e.Offsets, e.end-e.begin)
		}
		entries = append(entries, e)
	}
	if _, err := dec.Token(); err != nil {
		return nil, nil, bad("%v", err)
	}
	return entries, meta, nil
}

// WriteSafetensors writes sd as a .safetensors file: tensors in sd.Keys
// order, float32 tensors as F32 and int64 tensors as I64, sd.Metadata as
// __metadata__, the header padded with spaces to 8 bytes as the reference
// implementation does.
func WriteSafetensors(w io.Writer, sd *StateDict) error {
	if len(sd.Keys) != len(sd.Tensors) {
		return fmt.Errorf("write safetensors: %w: %d keys but %d tensors", sdk.ErrBadInput, len(sd.Keys), len(sd.Tensors))
	}
	var h bytes.Buffer
	h.WriteByte('{')
	if sd.Metadata != nil {
		m, err := json.Marshal(sd.Metadata)
		if err != nil {
			return fmt.Errorf("write safetensors: %w", err)
		}
		h.WriteString(`"__metadata__":`)
		h.Write(m)
	}
	off := int64(0)
	for i, k := range sd.Keys {
		t := sd.Tensors[k]
		if t == nil {
			return fmt.Errorf("write safetensors: %w: key %q has no tensor", sdk.ErrBadInput, k)
		}
		if k == "__metadata__" {
			return fmt.Errorf("write safetensors: %w: a tensor may not be named __metadata__", sdk.ErrBadInput)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("write safetensors: tensor %q: %w", k, err)
		}
		name, _ := json.Marshal(k)
		shape, _ := json.Marshal(append([]int64{}, t.Shape...))
		dt := "F32"
		if t.DType() == sdk.Int64 {
			dt = "I64"
		}
		n := int64(t.Len()) * 4
		if dt == "I64" {
			n *= 2
		}
		if i > 0 || sd.Metadata != nil {
			h.WriteByte(',')
		}
		fmt.Fprintf(&h, `%s:{"dtype":%q,"shape":%s,"data_offsets":[%d,%d]}`, name, dt, shape, off, off+n)
		off += n
	}
	h.WriteByte('}')
	for h.Len()%8 != 0 {
		h.WriteByte(' ')
	}
	var lenb [8]byte
	binary.LittleEndian.PutUint64(lenb[:], uint64(h.Len()))
	if err := writeAll(w, lenb[:], h.Bytes()); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	buf := make([]byte, 0, 1<<16)
	for _, k := range sd.Keys {
		t := sd.Tensors[k]
		for i := 0; i < t.Len(); i++ {
			if t.Int64 != nil {
				buf = binary.LittleEndian.AppendUint64(buf, uint64(t.Int64[i]))
			} else {
				buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(t.Float32[i]))
			}
			if len(buf) >= 1<<16-8 {
				if err := writeAll(w, buf); err != nil {
					return fmt.Errorf("write safetensors: %w", err)
				}
				buf = buf[:0]
			}
		}
	}
	if err := writeAll(w, buf); err != nil {
		return fmt.Errorf("write safetensors: %w", err)
	}
	return nil
}
