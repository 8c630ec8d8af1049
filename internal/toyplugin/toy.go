package toyplugin

import (
	"context"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gozoo/gozoo/sdk"
)

// Backbone is the toy backbone. The zero value is ready to use and safe for
// concurrent use.
type Backbone struct{}

var _ sdk.Backbone = Backbone{}

// New returns the toy backbone.
func New() sdk.Backbone { return Backbone{} }

// Describe describes the toy plugin.
func (Backbone) Describe(context.Context) (*sdk.Description, error) {
	name := os.Getenv("TOY_NAME")
	if name == "" {
		name = "toy"
	}
	return &sdk.Description{
		Name:          name,
		Version:       "0.1.0",
		ProtocolMinor: protocolMinor(),
		Archs: []sdk.Arch{{
			Name:  "toy",
			Input: sdk.InputSpec{Shape: []int64{-1, 4}, DType: sdk.Float32},
			Options: []sdk.OptionSpec{
				{Name: "dim", Default: "4", Usage: "row width"},
				{Name: "delay_ms", Default: "0", Usage: "sleep per Extract call"},
				{Name: "seed_file", Usage: "a file whose first line is an integer added to Seed; the path must arrive absolute", Path: true},
			},
			Doc: "deterministic toy network for protocol tests",
		}},
		Capabilities: sdk.Capabilities{Extract: true, Train: true, Devices: []string{"cpu"}},
	}, nil
}

// protocolMinor is sdk.ProtocolMinor, or TOY_PROTOCOL_MINOR, which plays
// a plugin built for an older protocol.
func protocolMinor() int {
	if v, err := strconv.Atoi(os.Getenv("TOY_PROTOCOL_MINOR")); err == nil {
		return v
	}
	return sdk.ProtocolMinor
}

// Load builds a toy model. TOY_LOAD_DELAY_MS=N makes it take N ms (or
// until ctx ends), like a large model.
func (Backbone) Load(ctx context.Context, req *sdk.LoadRequest) (sdk.Model, error) {
	if ms, err := strconv.Atoi(os.Getenv("TOY_LOAD_DELAY_MS")); err == nil && ms > 0 {
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if req.Arch != "toy" {
		return nil, fmt.Errorf("%w %q: the toy plugin offers only \"toy\"", sdk.ErrUnknownArch, req.Arch)
	}
	if req.WeightsPath != "" {
		return nil, fmt.Errorf("%w: the toy model has no weights files; leave WeightsPath empty", sdk.ErrWeights)
	}
	if req.Device != "" && req.Device != "cpu" {
		return nil, fmt.Errorf("%w: %q: the toy model runs on cpu only", sdk.ErrDeviceUnavailable, req.Device)
	}
	m := &model{dim: 4}
	seed := req.Seed
	for k, v := range req.Options {
		if k == "seed_file" {
			add, err := readSeedFile(v)
			if err != nil {
				return nil, err
			}
			seed += add
			continue
		}
		n, err := strconv.Atoi(v)
		switch {
		case k != "dim" && k != "delay_ms":
			return nil, fmt.Errorf("%w %q: toy takes dim, delay_ms and seed_file", sdk.ErrBadOption, k)
		case err != nil || n < 0 || (k == "dim" && n == 0):
			return nil, fmt.Errorf("%w %s=%q: want a positive integer", sdk.ErrBadOption, k, v)
		case k == "dim":
			m.dim = n
		default:
			m.delay = time.Duration(n) * time.Millisecond
		}
	}
	r := rand.New(rand.NewSource(seed))
	m.head = make([]float32, 2*m.dim)
	for i := range m.head {
		m.head[i] = float32(r.NormFloat64() / math.Sqrt(float64(m.dim)))
	}
	m.trainable = map[string]bool{"lin.weight": true, "lin.bias": true, "head.weight": true}
	if protocolMinor() < 2 {
		return m, nil // models of older plugins do not describe their input
	}
	return describedModel{m}, nil
}

// readSeedFile reads the integer on the first line of path, which must be
// absolute: the host resolves paths, the plugin never does.
func readSeedFile(path string) (int64, error) {
	if !filepath.IsAbs(path) {
		return 0, fmt.Errorf("%w seed_file=%q: the host sent a relative path", sdk.ErrBadOption, path)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("%w seed_file: %v", sdk.ErrBadOption, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	n, err := strconv.ParseInt(strings.TrimSpace(line), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w seed_file %s: want an integer on the first line", sdk.ErrBadOption, path)
	}
	return n, nil
}

type model struct {
	dim   int
	delay time.Duration

	mu        sync.Mutex
	head      []float32 // [2, dim]
	trainable map[string]bool
	closed    bool
}

var (
	_ sdk.Model   = (*model)(nil)
	_ sdk.Trainer = (*model)(nil)
)

// describedModel is a toy model that says which input it takes, as
// models of protocol minor 2 do.
type describedModel struct{ *model }

var _ sdk.InputDescriber = describedModel{}

// Input is [N, dim] float32 rows.
func (m describedModel) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, int64(m.dim)}, DType: sdk.Float32}
}

var layerNames = []string{"lin", "sum", "head"}

func (m *model) check() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return fmt.Errorf("%w: toy model", sdk.ErrClosed)
	}
	return nil
}

func (m *model) Layers(_ context.Context, req *sdk.LayersRequest) ([]sdk.Layer, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	n := int64(-1)
	if len(req.InputShape) > 0 {
		if err := m.checkShape(req.InputShape); err != nil {
			return nil, err
		}
		n = req.InputShape[0]
	}
	d := int64(m.dim)
	return []sdk.Layer{
		{Name: "lin", Kind: "Linear", Shape: []int64{n, d}, Params: d*d + d},
		{Name: "sum", Kind: "Sum", Shape: []int64{n, 1}},
		{Name: "head", Kind: "Linear", Shape: []int64{n, 2}, Params: 2 * d},
	}, nil
}

func (m *model) checkShape(shape []int64) error {
	if len(shape) != 2 || (shape[1] != int64(m.dim)) {
		return &sdk.ShapeError{What: "toy input", Want: []int64{-1, int64(m.dim)}, Got: shape, Hint: "pass rows of dim floats"}
	}
	return nil
}

func (m *model) Extract(ctx context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	x := req.Input
	if err := x.Validate(); err != nil {
		return nil, err
	}
	if x.DType() != sdk.Float32 {
		return nil, fmt.Errorf("%w: toy input is %s; want float32", sdk.ErrBadInput, x.DType())
	}
	if err := m.checkShape(x.Shape); err != nil {
		return nil, err
	}
	layers := req.Layers
	if len(layers) == 0 {
		layers = []string{"head"}
	}
	for _, l := range layers {
		if l != "lin" && l != "sum" && l != "head" {
			return nil, &sdk.LayerError{Name: l, Suggestions: sdk.Suggest(l, layerNames, 3)}
		}
	}
	if m.delay > 0 {
		select {
		case <-time.After(m.delay):
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	n, d := x.Shape[0], int64(m.dim)
	lin := sdk.Zeros(n, d)
	for i, v := range x.Float32 {
		lin.Float32[i] = 2 * v
	}
	out := &sdk.ExtractResponse{Outputs: map[string]*sdk.Tensor{}}
	for _, l := range layers {
		switch l {
		case "lin":
			out.Outputs[l] = lin
		case "sum":
			s := sdk.Zeros(n, 1)
			for i := int64(0); i < n; i++ {
				var acc float32
				for _, v := range x.Float32[i*d : (i+1)*d] {
					acc += v
				}
				s.Float32[i] = acc
			}
			out.Outputs[l] = s
		case "head":
			m.mu.Lock()
			out.Outputs[l] = logits(lin.Float32, m.head, n, d)
			m.mu.Unlock()
		}
	}
	return out, nil
}

func logits(lin, head []float32, n, d int64) *sdk.Tensor {
	h := sdk.Zeros(n, 2)
	for i := int64(0); i < n; i++ {
		for k := int64(0); k < 2; k++ {
			var acc float32
			for j := int64(0); j < d; j++ {
				acc += lin[i*d+j] * head[k*d+j]
			}
			h.Float32[i*2+k] = acc
		}
	}
	return h
}

func (m *model) Params(context.Context) ([]sdk.Param, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	d := int64(m.dim)
	m.mu.Lock()
	defer m.mu.Unlock()
	return []sdk.Param{
		{Name: "lin.weight", Shape: []int64{d, d}, Trainable: m.trainable["lin.weight"]},
		{Name: "lin.bias", Shape: []int64{d}, Trainable: m.trainable["lin.bias"]},
		{Name: "head.weight", Shape: []int64{2, d}, Trainable: m.trainable["head.weight"]},
	}, nil
}

func (m *model) SetTrainable(_ context.Context, req *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	resp := &sdk.SetTrainableResponse{}
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, name := range []string{"lin.weight", "lin.bias", "head.weight"} {
		for _, p := range req.Patterns {
			ok, err := sdk.MatchPattern(p, name)
			if err != nil {
				return nil, err
			}
			if ok {
				m.trainable[name] = req.Trainable
				resp.Matched = append(resp.Matched, name)
				break
			}
		}
	}
	return resp, nil
}

// Train runs SGD with softmax cross entropy on head.weight over the lin
// features; it reports one event per batch.
func (m *model) Train(ctx context.Context, req *sdk.TrainRequest, events func(*sdk.TrainEvent) error) error {
	if err := m.check(); err != nil {
		return err
	}
	if req.Optimizer != "" && req.Optimizer != "sgd" {
		return fmt.Errorf("%w: optimizer %q: the toy model trains with sgd only", sdk.ErrBadOption, req.Optimizer)
	}
	d := int64(m.dim)
	epoch, step := 0, 0
	for {
		var b sdk.TrainBatch
		var ok bool
		select {
		case b, ok = <-req.Batches:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return events(&sdk.TrainEvent{Epoch: epoch, Step: step, Message: "done"})
		}
		if err := m.checkShape(b.Input.Shape); err != nil {
			return err
		}
		n := b.Input.Shape[0]
		if int64(len(b.Labels)) != n {
			return fmt.Errorf("%w: %d labels for %d rows", sdk.ErrBadInput, len(b.Labels), n)
		}
		lin := make([]float32, len(b.Input.Float32))
		for i, v := range b.Input.Float32 {
			lin[i] = 2 * v
		}
		m.mu.Lock()
		lg := logits(lin, m.head, n, d)
		var loss float64
		correct := 0
		grad := make([]float64, 2*d)
		for i := int64(0); i < n; i++ {
			a, c := float64(lg.Float32[2*i]), float64(lg.Float32[2*i+1])
			mx := math.Max(a, c)
			ea, ec := math.Exp(a-mx), math.Exp(c-mx)
			p := [2]float64{ea / (ea + ec), ec / (ea + ec)}
			y := b.Labels[i]
			if y < 0 || y > 1 {
				m.mu.Unlock()
				return fmt.Errorf("%w: label %d: the toy head has classes 0 and 1", sdk.ErrBadInput, y)
			}
			loss -= math.Log(p[y] + 1e-12)
			if (p[1] > p[0]) == (y == 1) {
				correct++
			}
			for k := int64(0); k < 2; k++ {
				g := p[k]
				if k == y {
					g--
				}
				for j := int64(0); j < d; j++ {
					grad[k*d+j] += g * float64(lin[i*d+j]) / float64(n)
				}
			}
		}
		if !b.Validation && m.trainable["head.weight"] {
			for i := range m.head {
				m.head[i] -= float32(req.LR * grad[i])
			}
		}
		m.mu.Unlock()
		if !b.Validation {
			step++
		}
		if err := events(&sdk.TrainEvent{Epoch: epoch, Step: step, Loss: loss / float64(n), Accuracy: float64(correct) / float64(n), LR: req.LR, Validation: b.Validation}); err != nil {
			return err
		}
		if b.EndOfEpoch {
			epoch++
			if req.Epochs > 0 && epoch >= req.Epochs {
				return events(&sdk.TrainEvent{Epoch: epoch, Step: step, Message: "done"})
			}
		}
	}
}

func (m *model) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}
