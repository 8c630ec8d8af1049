package cli

import (
	"fmt"
	"math/rand"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/sdk"
)

// inputSpec is one model input as bridge export's --input gives it.
type inputSpec struct {
	Name  string
	DType sdk.DType
	Shape []int64
}

// String writes the spec as the torch plugin's inputs option takes it:
// NAME:DTYPE:D0xD1x...
func (s inputSpec) String() string {
	dims := make([]string, len(s.Shape))
	for i, d := range s.Shape {
		dims[i] = strconv.FormatInt(d, 10)
	}
	return s.Name + ":" + s.DType.String() + ":" + strings.Join(dims, "x")
}

// parseDType reads float32 or int64.
func parseDType(s string) (sdk.DType, error) {
	switch s {
	case "float32":
		return sdk.Float32, nil
	case "int64":
		return sdk.Int64, nil
	}
	return 0, fmt.Errorf("dtype %q: use float32 or int64 (token ids)", s)
}

// parseInputSpec reads NAME:DTYPE:SHAPE, the shape's dimensions separated
// by commas or x: "tokens:int64:2,12".
func parseInputSpec(s string) (inputSpec, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 || parts[0] == "" {
		return inputSpec{}, usageErrorf("--input %q: want NAME:DTYPE:SHAPE, e.g. tokens:int64:2,12", s)
	}
	if strings.ContainsAny(parts[0], ";= ") {
		return inputSpec{}, usageErrorf("--input %q: a name without ';', '=' or spaces", s)
	}
	dt, err := parseDType(parts[1])
	if err != nil {
		return inputSpec{}, usageErrorf("--input %q: %v", s, err)
	}
	spec := inputSpec{Name: parts[0], DType: dt}
	for _, d := range strings.FieldsFunc(parts[2], func(r rune) bool { return r == ',' || r == 'x' }) {
		v, err := strconv.ParseInt(strings.TrimSpace(d), 10, 64)
		if err != nil || v < 1 {
			return inputSpec{}, usageErrorf("--input %q: the shape needs positive integers, e.g. 2,12", s)
		}
		spec.Shape = append(spec.Shape, v)
	}
	if len(spec.Shape) == 0 {
		return inputSpec{}, usageErrorf("--input %q: give a shape, e.g. 2,12", s)
	}
	return spec, nil
}

// parseInputSpecs reads repeated --input flags; names must differ and the
// batch (first) dimension must agree.
func parseInputSpecs(flags []string) ([]inputSpec, error) {
	var out []inputSpec
	seen := map[string]bool{}
	for _, f := range flags {
		s, err := parseInputSpec(f)
		if err != nil {
			return nil, err
		}
		if seen[s.Name] {
			return nil, usageErrorf("--input %s given twice", s.Name)
		}
		seen[s.Name] = true
		if len(out) > 0 && s.Shape[0] != out[0].Shape[0] {
			return nil, usageErrorf("--input %s: batch %d differs from %s's %d: the first dimension is the batch of every input", s.Name, s.Shape[0], out[0].Name, out[0].Shape[0])
		}
		out = append(out, s)
	}
	return out, nil
}

// randomInputs makes seeded inputs for specs: normal float32 values, and
// int64 values in [0, intRange) (token ids every embedding of at least
// intRange rows takes). The first spec is the model's Input, the others
// its Inputs by name.
func randomInputs(specs []inputSpec, seed, intRange int64) (*sdk.Tensor, map[string]*sdk.Tensor) {
	r := rand.New(rand.NewSource(seed))
	var first *sdk.Tensor
	var rest map[string]*sdk.Tensor
	for i, s := range specs {
		t := &sdk.Tensor{Shape: append([]int64(nil), s.Shape...)}
		n := sdk.NumElements(s.Shape)
		if s.DType == sdk.Int64 {
			t.Int64 = make([]int64, n)
			for j := range t.Int64 {
				t.Int64[j] = r.Int63n(intRange)
			}
		} else {
			t.Float32 = make([]float32, n)
			for j := range t.Float32 {
				t.Float32[j] = float32(r.NormFloat64())
			}
		}
		if i == 0 {
			first = t
			continue
		}
		if rest == nil {
			rest = map[string]*sdk.Tensor{}
		}
		rest[s.Name] = t
	}
	return first, rest
}

// describeNPY says what the .npy file at path holds, as the file stores
// it and as it was read into t: "uint8[2, 3, 8, 8], read as int64", or
// "float32[2, 3, 8, 8]".
func describeNPY(path string, t *sdk.Tensor) string {
	read := t.DType().String() + sdk.FormatShape(t.Shape)
	h, err := npy.ReadHeader(path)
	if err != nil || h.DType == t.DType().String() {
		return read
	}
	return h.String() + ", read as " + t.DType().String()
}
