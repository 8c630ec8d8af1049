package onnx

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
	sdkbackbone "github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/ort"
	"google.golang.org/protobuf/proto"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

// Arch is the one architecture the plugin offers: the model in the file.
const Arch = "onnx"

// maxSessions bounds the ONNX Runtime sessions a model keeps, one per
// distinct set of requested layers; each holds a copy of the model.
const maxSessions = 2

// New returns the ONNX backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone{} }

type backbone struct{}

var _ sdk.Backbone = backbone{}

// Describe lists the one arch, "onnx".
func (backbone) Describe(ctx context.Context) (*sdk.Description, error) {
	devs := []string{"cpu"}
	for _, d := range ort.Devices() {
		if d.Available && d.Device != "cpu" {
			devs = append(devs, d.Device)
		}
	}
	return &sdk.Description{
		Name:          "onnx",
		Version:       Version,
		ProtocolMinor: sdk.ProtocolMinor,
		Capabilities:  sdk.Capabilities{Extract: true, Devices: devs},
		Archs: []sdk.Arch{{
			Name:  Arch,
			Input: sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32},
			Options: []sdk.OptionSpec{
				{Name: "file", Usage: "the .onnx file (or give it as the weights path)", Path: true},
			},
			Doc: "any ONNX model: layers by PyTorch module path (torch.onnx.export scopes) or node output name; the inputs are the file's own (further ones by name)",
		}},
	}, nil
}

// Load reads the ONNX file named by the weights path or option file.
func (backbone) Load(ctx context.Context, req *sdk.LoadRequest) (sdk.Model, error) {
	if req.Arch != Arch {
		return nil, fmt.Errorf("onnx: arch %q: %w; the plugin offers %q (the model in the file)", req.Arch, sdk.ErrUnknownArch, Arch)
	}
	path := req.WeightsPath
	for k, v := range req.Options {
		switch k {
		case "file":
			if path != "" && path != v {
				return nil, fmt.Errorf("onnx: option file=%s and weights path %s: %w: give the file once", v, path, sdk.ErrBadOption)
			}
			path = v
		default:
			return nil, fmt.Errorf("onnx: option %q: %w: the onnx arch takes file only", k, sdk.ErrBadOption)
		}
	}
	if path == "" {
		return nil, fmt.Errorf("onnx: no model file: %w: give the .onnx file as the weights path (gozoo extract --onnx FILE)", sdk.ErrBadOption)
	}
	switch req.WeightsFormat {
	case sdk.FormatNone, sdk.FormatONNX:
	default:
		return nil, fmt.Errorf("onnx: weights format %q: %w: the onnx plugin reads .onnx files", req.WeightsFormat, sdk.ErrUnsupported)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
	}
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil || mp.GetGraph() == nil || len(mp.GetGraph().GetNode()) == 0 {
		return nil, fmt.Errorf("onnx: %s is not an ONNX model (%v): %w", path, err, sdk.ErrWeights)
	}
	// ONNX Runtime gets the model's bytes with any external data inlined,
	// read from inside the model's folder only, so it opens no file itself.
	inlined, err := inlineExternal(mp, path)
	if err != nil {
		return nil, err
	}
	if inlined {
		if data, err = proto.Marshal(mp); err != nil {
			return nil, fmt.Errorf("onnx: %s: %w", path, err)
		}
	}
	m := &model{path: path, proto: mp, raw: data, sessions: sdkbackbone.NewSessions(maxSessions)}
	if req.Threads > 0 {
		m.opts = append(m.opts, ort.WithThreads(req.Threads))
	}
	if req.Device != "" {
		m.opts = append(m.opts, ort.WithDevice(req.Device))
	}
	if err := m.init(); err != nil {
		return nil, err
	}
	// Fail at Load, not at the first Extract, when the runtime cannot run
	// the file or the device is unusable.
	c, err := m.session(nil)
	if err != nil {
		return nil, err
	}
	if err := c.Release(); err != nil {
		return nil, err
	}
	return m, nil
}

type model struct {
	path   string
	proto  *onnxpb.ModelProto // read-only after init
	raw    []byte
	opts   []ort.Option
	input  string
	shape  []int64 // the input's shape, -1 where free
	dtype  sdk.DType
	extras []bridge.ONNXInput // further inputs, fed from ExtractRequest.Inputs
	refs   []layerRef
	byName map[string]layerRef
	values map[string]bool // every node output

	mu        sync.Mutex
	closed    bool
	sessions  *sdkbackbone.Sessions
	shapes    map[string][]sdk.Layer
	trainable map[string]bool
	params    []sdk.Param
}

var _ sdk.Model = (*model)(nil)

func (m *model) init() error {
	g := m.proto.GetGraph()
	inits := map[string]bool{}
	m.trainable = map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
		if t.GetDataType() == int32(onnxpb.TensorProto_FLOAT) && len(t.GetDims()) > 0 {
			m.params = append(m.params, sdk.Param{Name: t.GetName(), Shape: slices.Clone(t.GetDims()), Trainable: true})
			m.trainable[t.GetName()] = true
		}
	}
	ins := bridge.GraphInputs(g)
	if len(ins) == 0 {
		return fmt.Errorf("onnx: %s has no inputs: %w: gozoo feeds models with at least one", m.path, sdk.ErrUnsupported)
	}
	for i := range ins {
		in := &ins[i]
		if in.DType == 0 {
			return fmt.Errorf("onnx: %s: input %s has element type %s: %w: gozoo feeds float32 or int64", m.path, in.Name, in.Type, sdk.ErrUnsupported)
		}
		if len(in.Shape) == 0 {
			return fmt.Errorf("onnx: %s: input %s is a scalar: %w: gozoo feeds batches", m.path, in.Name, sdk.ErrUnsupported)
		}
		in.Shape[0] = -1
	}
	m.input, m.shape, m.dtype, m.extras = ins[0].Name, ins[0].Shape, ins[0].DType, ins[1:]
	m.refs = mapLayers(g)
	m.byName = map[string]layerRef{}
	m.values = map[string]bool{}
	for _, r := range m.refs {
		m.byName[r.name] = r
	}
	for _, n := range g.GetNode() {
		for _, o := range n.GetOutput() {
			if o != "" {
				m.values[o] = true
			}
		}
	}
	m.shapes = map[string][]sdk.Layer{}
	return nil
}

// resolve maps layer names to graph values: module paths and graph
// outputs first, then raw node output names.
func (m *model) resolve(names []string) ([]string, error) {
	vals := make([]string, len(names))
	for i, n := range names {
		if r, ok := m.byName[n]; ok {
			vals[i] = r.value
			continue
		}
		if m.values[n] {
			vals[i] = n
			continue
		}
		cands := make([]string, 0, len(m.refs))
		for _, r := range m.refs {
			cands = append(cands, r.name)
		}
		return nil, &sdk.LayerError{Name: n, Suggestions: sdk.Suggest(n, cands, 3)}
	}
	return vals, nil
}

// withOutputs returns the model's bytes with values added as graph outputs.
func (m *model) withOutputs(values []string) ([]byte, error) {
	g := m.proto.GetGraph()
	have := map[string]bool{}
	for _, o := range g.GetOutput() {
		have[o.GetName()] = true
	}
	var extra []string
	for _, v := range values {
		if !have[v] {
			have[v] = true
			extra = append(extra, v)
		}
	}
	if len(extra) == 0 {
		return m.raw, nil
	}
	mp := proto.Clone(m.proto).(*onnxpb.ModelProto)
	for _, v := range extra {
		mp.Graph.Output = append(mp.Graph.Output, &onnxpb.ValueInfoProto{
			Name: v,
			Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{ElemType: valueType(g, v)}}},
		})
	}
	return proto.Marshal(mp)
}

// session returns a lease on a session whose outputs are values (the
// graph's own outputs when empty).
func (m *model) session(values []string) (*sdkbackbone.Lease, error) {
	outs := slices.Clone(values)
	slices.Sort(outs)
	outs = slices.Compact(outs)
	m.mu.Lock()
	closed := m.closed
	m.mu.Unlock()
	if closed {
		return nil, fmt.Errorf("onnx: %s: %w", m.path, sdk.ErrClosed)
	}
	c, err := m.sessions.Acquire(strings.Join(outs, "\x00"), func() (*ort.Session, error) {
		data, err := m.withOutputs(outs)
		if err != nil {
			return nil, err
		}
		s, err := ort.NewSession(data, m.opts...)
		if err != nil {
			return nil, fmt.Errorf("onnx: %s: %w", m.path, err)
		}
		return s, nil
	})
	if errors.Is(err, sdk.ErrClosed) {
		return nil, fmt.Errorf("onnx: %s: %w", m.path, sdk.ErrClosed)
	}
	return c, err
}

// checkShape checks an input shape against the file's; free allows -1
// for the batch.
func (m *model) checkShape(shape []int64, free bool) error {
	bad := len(shape) != len(m.shape)
	for i := 0; !bad && i < len(shape); i++ {
		d := shape[i]
		switch {
		case d == 0 || d < -1, d == -1 && !(free && i == 0):
			bad = true
		case m.shape[i] > 0 && d != m.shape[i] && !(i == 0 && d == -1):
			bad = true
		}
	}
	if bad {
		return &sdk.ShapeError{What: "input", Want: m.shape, Got: shape, Hint: "give the input shape the ONNX file declares"}
	}
	return nil
}

// run runs one forward pass over the first input x and the further
// inputs extra and returns the values asked for.
func (m *model) run(ctx context.Context, x *sdk.Tensor, extra map[string]*sdk.Tensor, values []string) (map[string]*sdk.Tensor, error) {
	c, err := m.session(values)
	if err != nil {
		return nil, err
	}
	feed := map[string]*sdk.Tensor{m.input: x}
	for k, v := range extra {
		feed[k] = v
	}
	out, err := c.Session().Run(ctx, feed, values)
	return out, errors.Join(err, c.Release())
}

// checkExtras checks the further inputs of a batch of n rows against the
// file's: every name present, nothing else, dtypes and shapes as declared.
func (m *model) checkExtras(extra map[string]*sdk.Tensor, n int64) error {
	for name := range extra {
		if !slices.ContainsFunc(m.extras, func(in bridge.ONNXInput) bool { return in.Name == name }) {
			return fmt.Errorf("onnx: %w: input %q is not one of %s's; it takes %s", sdk.ErrBadInput, name, m.path, m.inputList())
		}
	}
	for _, in := range m.extras {
		t, ok := extra[in.Name]
		if !ok {
			return fmt.Errorf("onnx: %w: %s takes %d inputs (%s); input %q is missing", sdk.ErrBadInput, m.path, len(m.extras)+1, m.inputList(), in.Name)
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("onnx: input %q: %w", in.Name, err)
		}
		want := slices.Clone(in.Shape)
		want[0] = n
		bad := t.DType() != in.DType || len(t.Shape) != len(want)
		for i := 0; !bad && i < len(want); i++ {
			bad = want[i] > 0 && t.Shape[i] != want[i]
		}
		if bad {
			return &sdk.ShapeError{What: fmt.Sprintf("input %q", in.Name), DType: t.DType(), WantDType: in.DType, Want: want, Got: t.Shape,
				Hint: fmt.Sprintf("give %s%s, as the ONNX file declares, with the first input's %d rows", in.DType, sdk.FormatShape(in.Shape), n)}
		}
	}
	return nil
}

// inputList names every input with its dtype and shape.
func (m *model) inputList() string {
	parts := []string{fmt.Sprintf("%s %s%s", m.input, m.dtype, sdk.FormatShape(m.shape))}
	for _, in := range m.extras {
		parts = append(parts, in.String())
	}
	return strings.Join(parts, ", ")
}

// Layers lists the module paths and graph outputs with their shapes for
// req.InputShape (default: the file's input, which must then have no free
// dimension besides the batch). Shapes come from running the model on
// batches of one and two zeros.
func (m *model) Layers(ctx context.Context, req *sdk.LayersRequest) ([]sdk.Layer, error) {
	shape := m.shape
	if req != nil && len(req.InputShape) > 0 {
		shape = req.InputShape
	}
	if err := m.checkShape(shape, true); err != nil {
		return nil, err
	}
	key := fmt.Sprint(shape)
	m.mu.Lock()
	if ls, ok := m.shapes[key]; ok {
		m.mu.Unlock()
		return ls, nil
	}
	m.mu.Unlock()
	values := make([]string, len(m.refs))
	for i, r := range m.refs {
		values[i] = r.value
	}
	for _, in := range m.extras {
		if slices.Contains(in.Shape[1:], -1) {
			return nil, fmt.Errorf("onnx: %w: input %s has free dimensions besides the batch; layers can list only files whose further inputs have fixed shapes", sdk.ErrUnsupported, in)
		}
	}
	zeros := func(dt sdk.DType, s []int64) *sdk.Tensor {
		x := &sdk.Tensor{Shape: s}
		if dt == sdk.Int64 {
			x.Int64 = make([]int64, sdk.NumElements(s))
		} else {
			x.Float32 = make([]float32, sdk.NumElements(s))
		}
		return x
	}
	var runs [2]map[string]*sdk.Tensor
	for b := range runs {
		s := slices.Clone(shape)
		s[0] = int64(b + 1)
		x := zeros(m.dtype, s)
		extra := map[string]*sdk.Tensor{}
		for _, in := range m.extras {
			es := slices.Clone(in.Shape)
			es[0] = int64(b + 1)
			extra[in.Name] = zeros(in.DType, es)
		}
		out, err := m.run(ctx, x, extra, values)
		if err != nil {
			return nil, fmt.Errorf("onnx: layers for input %s: %w", sdk.FormatShape(s), err)
		}
		runs[b] = out
	}
	ls := make([]sdk.Layer, 0, len(m.refs))
	for _, r := range m.refs {
		a, b := runs[0][r.value], runs[1][r.value]
		if a == nil || b == nil {
			continue
		}
		s := slices.Clone(b.Shape)
		if len(a.Shape) == len(s) {
			for i := range s {
				if a.Shape[i] != s[i] {
					s[i] = -1
				}
			}
		}
		if !slices.Contains(s, -1) {
			continue // not batched: a shape computation, not a feature
		}
		ls = append(ls, sdk.Layer{Name: r.name, Kind: r.kind, Shape: s, Params: r.params})
	}
	m.mu.Lock()
	m.shapes[key] = ls
	m.mu.Unlock()
	return ls, nil
}

// Extract runs one forward pass and returns every requested layer
// (default: the graph's first output).
func (m *model) Extract(ctx context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	if req == nil || req.Input == nil {
		return nil, fmt.Errorf("onnx: extract: %w: no input tensor", sdk.ErrBadInput)
	}
	x := req.Input
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("onnx: extract: %w", err)
	}
	if x.DType() != m.dtype {
		return nil, &sdk.ShapeError{What: "input", DType: x.DType(), WantDType: m.dtype, Want: m.shape, Got: x.Shape, Hint: "convert the input to " + m.dtype.String()}
	}
	if err := m.checkShape(x.Shape, false); err != nil {
		return nil, sdk.WithDTypes(err, x.DType(), m.dtype)
	}
	if err := m.checkExtras(req.Inputs, x.Shape[0]); err != nil {
		return nil, err
	}
	layers := req.Layers
	if len(layers) == 0 {
		layers = []string{m.proto.GetGraph().GetOutput()[0].GetName()}
	}
	values, err := m.resolve(layers)
	if err != nil {
		return nil, err
	}
	out, err := m.run(ctx, x, req.Inputs, values)
	if err != nil {
		return nil, fmt.Errorf("onnx: extract: %w", err)
	}
	res := &sdk.ExtractResponse{Outputs: map[string]*sdk.Tensor{}}
	for i, l := range layers {
		res.Outputs[l] = out[values[i]]
	}
	return res, nil
}

// Params lists the file's float initializers (for a torch export, the
// state_dict names that survived export) with their trainable flags.
func (m *model) Params(ctx context.Context) ([]sdk.Param, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("onnx: %s: %w", m.path, sdk.ErrClosed)
	}
	out := slices.Clone(m.params)
	for i := range out {
		out[i].Trainable = m.trainable[out[i].Name]
	}
	return out, nil
}

// SetTrainable records trainable flags; ONNX Runtime inference does not
// train, so they are metadata for exports and other tools.
func (m *model) SetTrainable(ctx context.Context, req *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, fmt.Errorf("onnx: %s: %w", m.path, sdk.ErrClosed)
	}
	resp, err := sdkbackbone.ApplyTrainable(m.params, m.trainable, req)
	if err != nil {
		return nil, fmt.Errorf("onnx: %w", err)
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
	return m.sessions.Close()
}
