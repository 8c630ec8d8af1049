package backbone

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// model is one loaded net.
type model struct {
	family string
	arch   *Arch
	net    Net
	opts   Options
	src    *source
	ort    []ort.Option
	graphs *graphCache
	graph  *graph // for the net's default input; read-only

	mu        sync.Mutex
	closed    bool
	weights   *nn.Weights // until a session holds them; see session
	sessions  *Sessions
	trainable map[string]bool
}

var (
	_ sdk.Model            = (*model)(nil)
	_ sdk.InputDescriber   = (*model)(nil)
	_ sdk.OptionsDescriber = (*model)(nil)
)

// LoadedOptions returns the model's options as loaded (see
// sdk.OptionsDescriber).
func (m *model) LoadedOptions() []sdk.LoadedOption { return m.opts.Loaded(m.arch) }

// Input returns the net's input as loaded (see sdk.InputDescriber).
func (m *model) Input() sdk.InputSpec {
	in := m.net.Input()
	in.Shape = slices.Clone(in.Shape)
	return in
}

func (m *model) check() error {
	if m.closed {
		return fmt.Errorf("%s: %s: %w", m.family, m.arch.Name, sdk.ErrClosed)
	}
	return nil
}

// checkInput checks a shape against the net's input: the net's own check
// when it has one, else rank, fixed dimensions and positive sizes (the
// batch may be -1 when free).
func (m *model) checkInput(shape []int64, free bool) error {
	if c, ok := m.net.(InputChecker); ok {
		return c.CheckInput(shape, free)
	}
	in := m.net.Input()
	bad := len(shape) != len(in.Shape)
	for i := 0; !bad && i < len(shape); i++ {
		d := shape[i]
		switch {
		case in.Shape[i] >= 0 && d != in.Shape[i]:
			bad = true
		case d == 0, d < -1:
			bad = true
		case d == -1 && !(free && i == in.BatchAxis):
			bad = true
		}
	}
	if bad {
		return &sdk.ShapeError{What: "input", Want: in.Shape, Got: shape, Hint: m.inputHint()}
	}
	return nil
}

// inputHint says what input to give: the net's words when it has them.
func (m *model) inputHint() string {
	in := m.net.Input()
	if h, ok := m.net.(InputHinter); ok {
		return h.InputHint(in.DType)
	}
	return "give " + describeInput(in)
}

// describeInput says what an input should be, e.g. "[N, 3, H, W]
// float32": the batch is N, two or three trailing free dimensions are
// H, W or D, H, W, and other free dimensions are *.
func describeInput(in sdk.InputSpec) string {
	dims := make([]string, len(in.Shape))
	trailing := 0
	for i := len(in.Shape) - 1; i >= 0 && in.Shape[i] < 0 && i != in.BatchAxis; i-- {
		trailing++
	}
	names := map[int][]string{2: {"H", "W"}, 3: {"D", "H", "W"}}[trailing]
	for i, d := range in.Shape {
		switch {
		case i == in.BatchAxis:
			dims[i] = "N"
		case d >= 0:
			dims[i] = fmt.Sprint(d)
		case names != nil && i >= len(in.Shape)-trailing:
			dims[i] = names[i-(len(in.Shape)-trailing)]
		default:
			dims[i] = "*"
		}
	}
	return "[" + strings.Join(dims, ", ") + "] " + in.DType.String()
}

// batchFree returns shape with the batch dimension made -1.
func (m *model) batchFree(shape []int64) []int64 {
	s := slices.Clone(shape)
	if a := m.net.Input().BatchAxis; a >= 0 && a < len(s) {
		s[a] = -1
	}
	return s
}

// Layers lists the net's layers with their output shapes for
// req.InputShape (default: the net's input).
func (m *model) Layers(ctx context.Context, req *sdk.LayersRequest) ([]sdk.Layer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	shape := m.net.DefaultInput()
	if req != nil && len(req.InputShape) > 0 {
		shape = req.InputShape
		if err := m.checkInput(shape, true); err != nil {
			return nil, err
		}
	}
	g, err := m.graphs.get(m.net, m.batchFree(shape))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.arch.Name, err)
	}
	return slices.Clone(g.layers), nil
}

// Extract runs one forward pass and returns every requested layer.
func (m *model) Extract(ctx context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	if req == nil || req.Input == nil {
		return nil, fmt.Errorf("%s: extract: %w: no input tensor", m.arch.Name, sdk.ErrBadInput)
	}
	x := req.Input
	in := m.net.Input()
	if x.DType() != in.DType {
		hint := "convert the input to " + in.DType.String()
		if h, ok := m.net.(InputHinter); ok {
			hint = h.InputHint(x.DType())
		}
		return nil, &sdk.ShapeError{What: "input", DType: x.DType(), WantDType: in.DType, Want: in.Shape, Got: x.Shape, Hint: hint}
	}
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("%s: extract: %w", m.arch.Name, err)
	}
	if err := m.checkInput(x.Shape, false); err != nil {
		return nil, sdk.WithDTypes(err, x.DType(), in.DType)
	}
	layers := req.Layers
	if len(layers) == 0 {
		layers = []string{m.net.DefaultLayer()}
	}
	inputs := map[string]*sdk.Tensor{m.graph.input: x}
	if e, ok := m.net.(ExtraInputs); ok {
		more, err := e.ExtraInputs(req, x.Shape)
		if err != nil {
			return nil, err
		}
		for k, v := range more {
			inputs[k] = v
		}
	} else if len(req.Lengths) > 0 || len(req.Inputs) > 0 {
		return nil, fmt.Errorf("%s: extract: %w: %s takes one input and no lengths", m.arch.Name, sdk.ErrBadInput, m.arch.Name)
	}
	m.mu.Lock()
	if err := m.check(); err != nil {
		m.mu.Unlock()
		return nil, err
	}
	g, err := m.graphs.get(m.net, m.batchFree(x.Shape))
	if err != nil {
		m.mu.Unlock()
		return nil, fmt.Errorf("%s: %w", m.arch.Name, err)
	}
	for _, l := range layers {
		if _, err := g.b.Layer(l); err != nil {
			m.mu.Unlock()
			return nil, err
		}
	}
	c, err := m.session(g, layers)
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	out, err := c.Session().Run(ctx, inputs, nil)
	err = errors.Join(err, c.Release())
	if err != nil {
		return nil, fmt.Errorf("%s: %s: extract: %w", m.family, m.arch.Name, err)
	}
	return &sdk.ExtractResponse{Outputs: out}, nil
}

// session returns a lease on a session running g's graph for layers,
// making it when the cache has none; called with m.mu held.
func (m *model) session(g *graph, layers []string) (*Lease, error) {
	outs := slices.Clone(layers)
	slices.Sort(outs)
	outs = slices.Compact(outs)
	key, err := g.key(outs)
	if err != nil {
		return nil, err
	}
	return m.sessions.Acquire(key, func() (*ort.Session, error) {
		w := m.weights
		if w == nil {
			var err error
			if w, err = m.src.weights(m.net); err != nil {
				return nil, err
			}
		}
		onnx, err := g.b.ONNX(w, outs)
		// The ONNX bytes hold the weights the session needs: let the
		// rest go before ONNX Runtime makes its copy.
		w, m.weights = nil, nil
		debug.FreeOSMemory()
		if err != nil {
			return nil, err
		}
		s, err := ort.NewSession(onnx, m.ort...)
		onnx = nil
		debug.FreeOSMemory() // the ONNX bytes, now in ONNX Runtime
		if err != nil {
			return nil, fmt.Errorf("%s: %s: create session: %w", m.family, m.arch.Name, err)
		}
		return s, nil
	})
}

// Params lists the parameters (state_dict names without buffers) with
// their trainable flags.
func (m *model) Params(ctx context.Context) ([]sdk.Param, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	ps := m.graph.b.Params()
	for i := range ps {
		ps[i].Trainable = m.trainable[ps[i].Name]
	}
	return ps, nil
}

// SetTrainable sets the trainable flag of every parameter matching a
// pattern. The flags are metadata for training plugins and exports; ONNX
// Runtime inference does not train.
func (m *model) SetTrainable(ctx context.Context, req *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	resp, err := ApplyTrainable(m.graph.b.Params(), m.trainable, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.arch.Name, err)
	}
	return resp, nil
}

// Close releases the model's sessions. It is idempotent.
func (m *model) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil
	}
	m.closed = true
	m.weights = nil
	if m.sessions == nil {
		return nil
	}
	return m.sessions.Close()
}
