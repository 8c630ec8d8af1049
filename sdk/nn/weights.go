package nn

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// ParamSpec is one state_dict entry a model expects.
type ParamSpec struct {
	Name   string
	Shape  []int64
	DType  sdk.DType
	Buffer bool // a buffer (running_mean), not a parameter
	// Unused marks entries the graph never reads (num_batches_tracked).
	Unused bool
	// Optional entries may be absent from a state_dict.
	Optional bool
	Init     Init
}

// InitKind selects how a random init fills a tensor.
type InitKind int

// The init distributions, after torch.nn.init.
const (
	InitZeros InitKind = iota
	InitOnes
	// InitUniform draws from U(A, B).
	InitUniform
	// InitNormal draws from N(A, B²) (A the mean, B the std).
	InitNormal
	// InitKaimingUniform is torch's default for Conv and Linear weights:
	// kaiming_uniform_(a=sqrt(5)), i.e. U(-1/sqrt(fan_in), 1/sqrt(fan_in)).
	InitKaimingUniform
	// InitKaimingNormalFanOut is kaiming_normal_(mode="fan_out",
	// nonlinearity="relu"): N(0, 2/fan_out), as torchvision's ResNet and
	// VGG initialise convolutions.
	InitKaimingNormalFanOut
)

// Init describes a random init.
type Init struct {
	Kind InitKind
	A, B float64
}

// Uniform returns an Init drawing from U(lo, hi).
func Uniform(lo, hi float64) Init { return Init{Kind: InitUniform, A: lo, B: hi} }

// Normal returns an Init drawing from N(mean, std²).
func Normal(mean, std float64) Init { return Init{Kind: InitNormal, A: mean, B: std} }

// fans returns fan_in and fan_out of a weight shape as torch computes
// them: dim 1 and dim 0 times the receptive field.
func fans(shape []int64) (in, out float64) {
	if len(shape) < 2 {
		return 1, 1
	}
	rf := int64(1)
	for _, d := range shape[2:] {
		rf *= d
	}
	return float64(shape[1] * rf), float64(shape[0] * rf)
}

func (in Init) fill(shape []int64, data []float32, rng *rand.Rand) {
	switch in.Kind {
	case InitZeros:
	case InitOnes:
		for i := range data {
			data[i] = 1
		}
	case InitUniform:
		for i := range data {
			data[i] = float32(in.A + (in.B-in.A)*rng.Float64())
		}
	case InitNormal:
		for i := range data {
			data[i] = float32(in.A + in.B*rng.NormFloat64())
		}
	case InitKaimingUniform:
		fi, _ := fans(shape)
		bound := 1 / math.Sqrt(fi)
		Uniform(-bound, bound).fill(shape, data, rng)
	case InitKaimingNormalFanOut:
		_, fo := fans(shape)
		Normal(0, math.Sqrt(2/fo)).fill(shape, data, rng)
	}
}

// Weights holds the values of a model's state_dict entries. It is safe for
// concurrent reads; nothing in this package mutates it after construction.
type Weights struct {
	specs   []ParamSpec
	tensors map[string]*sdk.Tensor
}

// RandomWeights fills every spec with its seeded random init. The same
// seed and specs give the same values.
func RandomWeights(specs []ParamSpec, seed int64) *Weights {
	rng := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	w := &Weights{specs: specs, tensors: make(map[string]*sdk.Tensor, len(specs))}
	for _, s := range specs {
		n := sdk.NumElements(s.Shape)
		if s.DType == sdk.Int64 {
			w.tensors[s.Name] = &sdk.Tensor{Shape: append([]int64(nil), s.Shape...), Int64: make([]int64, n)}
			continue
		}
		t := sdk.Zeros(s.Shape...)
		s.Init.fill(s.Shape, t.Float32, rng)
		w.tensors[s.Name] = t
	}
	return w
}

// MismatchError reports a state_dict that does not fit a model, as torch's
// load_state_dict(strict=True) does. It matches sdk.ErrWeights.
type MismatchError struct {
	Missing    []string // expected keys the state_dict lacks
	Unexpected []string // keys the model does not have
	Mismatched []string // "name: checkpoint [a, b], model [c, d]"
}

func (e *MismatchError) Error() string {
	var parts []string
	list := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		shown := names
		if len(shown) > 6 {
			shown = shown[:6]
		}
		s := fmt.Sprintf("%d %s: %s", len(names), what, strings.Join(shown, ", "))
		if len(shown) < len(names) {
			s += ", ..."
		}
		parts = append(parts, s)
	}
	list("missing keys", e.Missing)
	list("unexpected keys", e.Unexpected)
	list("size mismatches", e.Mismatched)
	return "state_dict does not fit the model: " + strings.Join(parts, "; ")
}

// Is makes errors.Is(err, sdk.ErrWeights) true.
func (e *MismatchError) Is(target error) bool { return target == sdk.ErrWeights }

// LoadWeights takes the values for specs from a state_dict by name,
// strictly: a missing, unexpected, mistyped or mis-shaped key is a
// *MismatchError (Optional specs may be missing; they are zero then). The
// tensors are used as they are, not copied.
func LoadWeights(specs []ParamSpec, sd map[string]*sdk.Tensor) (*Weights, error) {
	w := &Weights{specs: specs, tensors: make(map[string]*sdk.Tensor, len(specs))}
	var e MismatchError
	want := make(map[string]bool, len(specs))
	for _, s := range specs {
		want[s.Name] = true
		t, ok := sd[s.Name]
		if !ok || t == nil {
			if s.Optional {
				w.tensors[s.Name] = zeroOf(s)
				continue
			}
			e.Missing = append(e.Missing, s.Name)
			continue
		}
		if !sdk.EqualShape(t.Shape, s.Shape) {
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: checkpoint %s, model %s", s.Name, sdk.FormatShape(t.Shape), sdk.FormatShape(s.Shape)))
			continue
		}
		if t.DType() != s.DType {
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: checkpoint %s, model %s", s.Name, t.DType(), s.DType))
			continue
		}
		if err := t.Validate(); err != nil {
			e.Mismatched = append(e.Mismatched, fmt.Sprintf("%s: %v", s.Name, err))
			continue
		}
		w.tensors[s.Name] = t
	}
	for k := range sd {
		if !want[k] {
			e.Unexpected = append(e.Unexpected, k)
		}
	}
	sort.Strings(e.Unexpected)
	if len(e.Missing)+len(e.Unexpected)+len(e.Mismatched) > 0 {
		return nil, &e
	}
	return w, nil
}

func zeroOf(s ParamSpec) *sdk.Tensor {
	if s.DType == sdk.Int64 {
		return &sdk.Tensor{Shape: append([]int64(nil), s.Shape...), Int64: make([]int64, sdk.NumElements(s.Shape))}
	}
	return sdk.Zeros(s.Shape...)
}

// Tensor returns the value of one entry, or nil. The tensor is shared, not
// copied: do not modify it.
func (w *Weights) Tensor(name string) *sdk.Tensor { return w.tensors[name] }

// StateDict returns every entry by name, sharing memory with w.
func (w *Weights) StateDict() map[string]*sdk.Tensor {
	out := make(map[string]*sdk.Tensor, len(w.tensors))
	for k, v := range w.tensors {
		out[k] = v
	}
	return out
}

// Bytes returns the size of the held values in bytes.
func (w *Weights) Bytes() int64 {
	var n int64
	for _, t := range w.tensors {
		n += int64(t.Len()) * 4
		if t.Int64 != nil {
			n += int64(t.Len()) * 4
		}
	}
	return n
}
