package serve

import (
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"

	"github.com/gozoo/gozoo/sdk"
)

// elemSize is the bytes of one element of a fixed-size dtype (0 for
// BYTES).
func elemSize(dtype string) (int64, error) {
	switch dtype {
	case "FP32":
		return 4, nil
	case "INT64":
		return 8, nil
	case "BYTES":
		return 0, nil
	}
	return 0, badRequest("datatype %q is not supported: send FP32, INT64 (lengths, token ids) or BYTES (encoded images)", dtype)
}

// checkShape returns the element count of shape, refusing negative
// dimensions and counts above limit before anything is allocated.
func checkShape(name string, shape []int64, limit int64) (int64, error) {
	if len(shape) == 0 {
		return 0, badRequest("input %q has no shape", name)
	}
	if len(shape) > 8 {
		return 0, badRequest("input %q has %d dimensions; at most 8 are supported", name, len(shape))
	}
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, badRequest("input %q has shape %s with a negative dimension", name, sdk.FormatShape(shape))
		}
		if d > 0 && n > limit/d {
			return 0, badRequest("input %q has shape %s, more than the %d elements a request may hold", name, sdk.FormatShape(shape), limit)
		}
		n *= d
	}
	if n > limit {
		return 0, badRequest("input %q has shape %s, more than the %d elements a request may hold", name, sdk.FormatShape(shape), limit)
	}
	return n, nil
}

// jsonRequest is the REST request body (or its JSON header).
type jsonRequest struct {
	ID         string                     `json:"id"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Inputs     []jsonInput                `json:"inputs"`
	Outputs    []jsonOutput               `json:"outputs"`
}

type jsonInput struct {
	Name       string                     `json:"name"`
	Shape      []int64                    `json:"shape"`
	Datatype   string                     `json:"datatype"`
	Parameters map[string]json.RawMessage `json:"parameters"`
	Data       json.RawMessage            `json:"data"`
}

type jsonOutput struct {
	Name       string                     `json:"name"`
	Parameters map[string]json.RawMessage `json:"parameters"`
}

// boolParam reads a boolean parameter; absent is false.
func boolParam(p map[string]json.RawMessage, key string) (bool, error) {
	raw, ok := p[key]
	if !ok {
		return false, nil
	}
	var v bool
	if err := json.Unmarshal(raw, &v); err != nil {
		return false, badRequest("parameter %q: want true or false", key)
	}
	return v, nil
}

// decodeREST decodes a REST inference body. headerLen is the
// Inference-Header-Content-Length (-1 when absent): the JSON header is
// body[:headerLen] and the binary data of the inputs that carry a
// binary_data_size parameter follows it, in input order.
func decodeREST(body []byte, headerLen int64, maxElems int64) (*request, error) {
	head, bin := body, []byte(nil)
	if headerLen >= 0 {
		if headerLen > int64(len(body)) {
			return nil, badRequest("Inference-Header-Content-Length %d is past the %d-byte body", headerLen, len(body))
		}
		head, bin = body[:headerLen], body[headerLen:]
	}
	var jr jsonRequest
	dec := json.NewDecoder(bytes.NewReader(head))
	if err := dec.Decode(&jr); err != nil {
		return nil, badRequest("request body is not a valid inference request (JSON): %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, badRequest("request JSON has data after its end; with binary data set the Inference-Header-Content-Length header")
	}
	r := &request{id: jr.ID, binary: map[string]bool{}}
	var err error
	if r.allBin, err = boolParam(jr.Parameters, "binary_data_output"); err != nil {
		return nil, err
	}
	if len(jr.Inputs) == 0 {
		return nil, badRequest("request has no inputs")
	}
	for i := range jr.Inputs {
		in := &jr.Inputs[i]
		if in.Name == "" {
			return nil, badRequest("input %d has no name", i)
		}
		size, err := elemSize(in.Datatype)
		if err != nil {
			return nil, fmt.Errorf("input %q: %w", in.Name, err)
		}
		n, err := checkShape(in.Name, in.Shape, maxElems)
		if err != nil {
			return nil, err
		}
		t := &tensor{name: in.Name, dtype: in.Datatype, shape: in.Shape}
		if raw, ok := in.Parameters["binary_data_size"]; ok {
			var bs int64
			if err := json.Unmarshal(raw, &bs); err != nil || bs < 0 {
				return nil, badRequest("input %q: binary_data_size must be a non-negative integer", in.Name)
			}
			if bs > int64(len(bin)) {
				return nil, badRequest("input %q: binary_data_size %d is past the %d bytes of binary data after the JSON header (check Inference-Header-Content-Length)", in.Name, bs, len(bin))
			}
			if len(in.Data) > 0 {
				return nil, badRequest("input %q has both data and binary_data_size: send one", in.Name)
			}
			if err := t.fromRaw(bin[:bs], n, size); err != nil {
				return nil, err
			}
			bin = bin[bs:]
		} else {
			if len(in.Data) == 0 {
				return nil, badRequest("input %q has no data", in.Name)
			}
			if err := t.fromJSON(in.Data, n); err != nil {
				return nil, err
			}
		}
		r.inputs = append(r.inputs, t)
	}
	if len(bin) > 0 {
		return nil, badRequest("%d bytes of binary data are not claimed by any input's binary_data_size", len(bin))
	}
	for _, o := range jr.Outputs {
		r.outputs = append(r.outputs, o.Name)
		b, err := boolParam(o.Parameters, "binary_data")
		if err != nil {
			return nil, err
		}
		r.binary[o.Name] = b || r.allBin
	}
	return r, nil
}

// fromRaw fills t from little-endian bytes (BYTES: a 4-byte length before
// each element).
func (t *tensor) fromRaw(b []byte, n, size int64) error {
	if size > 0 {
		if int64(len(b)) != n*size {
			return badRequest("input %q: shape %s of %s needs %d bytes; got %d", t.name, sdk.FormatShape(t.shape), t.dtype, n*size, len(b))
		}
		switch t.dtype {
		case "FP32":
			t.f32 = make([]float32, n)
			for i := range t.f32 {
				t.f32[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
			}
		case "INT64":
			t.i64 = make([]int64, n)
			for i := range t.i64 {
				t.i64[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
			}
		}
		return nil
	}
	// Every element takes at least its 4-byte length.
	if n > int64(len(b))/4 {
		return badRequest("input %q: shape %s claims %d BYTES elements; the %d bytes given hold at most %d", t.name, sdk.FormatShape(t.shape), n, len(b), len(b)/4)
	}
	t.bytes = make([][]byte, 0, n)
	for len(b) > 0 {
		if len(b) < 4 {
			return badRequest("input %q: BYTES data ends inside an element's 4-byte length", t.name)
		}
		l := binary.LittleEndian.Uint32(b)
		b = b[4:]
		if uint64(l) > uint64(len(b)) {
			return badRequest("input %q: BYTES element %d claims %d bytes; %d are left", t.name, len(t.bytes), l, len(b))
		}
		t.bytes = append(t.bytes, b[:l])
		b = b[l:]
	}
	if int64(len(t.bytes)) != n {
		return badRequest("input %q: shape %s needs %d BYTES elements; got %d", t.name, sdk.FormatShape(t.shape), n, len(t.bytes))
	}
	return nil
}

// fromJSON fills t from a JSON data array, flat or nested as the shape,
// reading at most n elements.
func (t *tensor) fromJSON(raw json.RawMessage, n int64) error {
	// Each element takes at least one byte and a separator.
	if n > int64(len(raw)+1)/2 {
		return badRequest("input %q: shape %s claims %d elements; the data holds at most %d", t.name, sdk.FormatShape(t.shape), n, (len(raw)+1)/2)
	}
	switch t.dtype {
	case "FP32":
		t.f32 = make([]float32, 0, n)
	case "INT64":
		t.i64 = make([]int64, 0, n)
	case "BYTES":
		t.bytes = make([][]byte, 0, n)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	depth, count := 0, int64(0)
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return badRequest("input %q: data is not a JSON array: %v", t.name, err)
		}
		switch v := tok.(type) {
		case json.Delim:
			switch v {
			case '[':
				depth++
				if depth > len(t.shape) {
					return badRequest("input %q: data nests deeper than its shape %s", t.name, sdk.FormatShape(t.shape))
				}
			case ']':
				depth--
			default:
				return badRequest("input %q: data holds an object; want numbers in arrays", t.name)
			}
			continue
		}
		if depth == 0 {
			return badRequest("input %q: data must be an array", t.name)
		}
		if count == n {
			return badRequest("input %q: data has more than the %d elements its shape %s holds", t.name, n, sdk.FormatShape(t.shape))
		}
		count++
		if err := t.appendJSON(tok); err != nil {
			return err
		}
	}
	if count != n {
		return badRequest("input %q: shape %s needs %d elements; data has %d", t.name, sdk.FormatShape(t.shape), n, count)
	}
	return nil
}

func (t *tensor) appendJSON(tok json.Token) error {
	switch t.dtype {
	case "FP32":
		num, ok := tok.(json.Number)
		if !ok {
			return badRequest("input %q: FP32 data holds %v; want numbers", t.name, tok)
		}
		f, err := strconv.ParseFloat(string(num), 32)
		if err != nil {
			return badRequest("input %q: %s is not an FP32 number", t.name, num)
		}
		t.f32 = append(t.f32, float32(f))
	case "INT64":
		num, ok := tok.(json.Number)
		if !ok {
			return badRequest("input %q: INT64 data holds %v; want integers", t.name, tok)
		}
		v, err := strconv.ParseInt(string(num), 10, 64)
		if err != nil {
			return badRequest("input %q: %s is not an INT64 integer", t.name, num)
		}
		t.i64 = append(t.i64, v)
	case "BYTES":
		s, ok := tok.(string)
		if !ok {
			return badRequest("input %q: BYTES data holds %v; want base64 strings", t.name, tok)
		}
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return badRequest("input %q: BYTES element %d is not base64: %v", t.name, len(t.bytes), err)
		}
		t.bytes = append(t.bytes, b)
	}
	return nil
}

// encodeREST writes the response as JSON, or as a JSON header followed by
// the binary data of the outputs asked for in binary; headerLen is the
// header's length when any output is binary, else -1.
func encodeREST(r *request, resp *response) (body []byte, headerLen int) {
	var b bytes.Buffer
	var bin [][]byte
	b.WriteString(`{"model_name":`)
	writeJSONString(&b, resp.model)
	b.WriteString(`,"model_version":`)
	writeJSONString(&b, resp.version)
	if resp.id != "" {
		b.WriteString(`,"id":`)
		writeJSONString(&b, resp.id)
	}
	b.WriteString(`,"outputs":[`)
	for i, o := range resp.outputs {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{"name":`)
		writeJSONString(&b, o.name)
		b.WriteString(`,"datatype":"FP32","shape":[`)
		for k, d := range o.t.Shape {
			if k > 0 {
				b.WriteByte(',')
			}
			b.WriteString(strconv.FormatInt(d, 10))
		}
		b.WriteByte(']')
		if r.binary[o.name] || (r.allBin && len(r.outputs) == 0) {
			raw := make([]byte, 4*len(o.t.Float32))
			for k, v := range o.t.Float32 {
				binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
			}
			bin = append(bin, raw)
			fmt.Fprintf(&b, `,"parameters":{"binary_data_size":%d}}`, len(raw))
			continue
		}
		b.WriteString(`,"data":[`)
		buf := make([]byte, 0, 24)
		for k, v := range o.t.Float32 {
			if k > 0 {
				b.WriteByte(',')
			}
			f := float64(v)
			if math.IsNaN(f) || math.IsInf(f, 0) {
				b.WriteString("null")
				continue
			}
			buf = strconv.AppendFloat(buf[:0], f, 'g', -1, 32)
			b.Write(buf)
		}
		b.WriteString("]}")
	}
	b.WriteString("]}")
	if len(bin) == 0 {
		return b.Bytes(), -1
	}
	headerLen = b.Len()
	for _, raw := range bin {
		b.Write(raw)
	}
	return b.Bytes(), headerLen
}

func writeJSONString(b *bytes.Buffer, s string) {
	out, _ := json.Marshal(s)
	b.Write(out)
}
