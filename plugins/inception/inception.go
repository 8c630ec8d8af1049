package inception

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	sdkbackbone "github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// Version is the plugin's version, reported by Describe.
const Version = "0.1.0"

const (
	inputName = "input"
	// maxSessions bounds the ONNX Runtime sessions a model keeps, one per
	// distinct set of requested layers (and input size, for GoogLeNet's
	// aux heads); each holds the weights its layers need.
	maxSessions = 2
	// defaultLayer is what Extract returns when no layer is named.
	defaultLayer = "fc"
)

// New returns the Inception backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone{} }

type backbone struct{}

var _ sdk.Backbone = backbone{}

// Describe lists inception_v3 and googlenet with their options.
func (backbone) Describe(ctx context.Context) (*sdk.Description, error) {
	d := &sdk.Description{
		Name:          "inception",
		Version:       Version,
		ProtocolMinor: sdk.ProtocolMinor,
		Capabilities:  sdk.Capabilities{Extract: true, Devices: devices()},
	}
	for _, a := range archs {
		d.Archs = append(d.Archs, sdk.Arch{
			Name:  a.name,
			Input: sdk.InputSpec{Shape: slices.Clone(a.input), DType: sdk.Float32},
			Options: []sdk.OptionSpec{
				{Name: "num_classes", Default: "1000", Usage: "output features of fc (and of the aux heads)"},
				{Name: "aux_logits", Default: "true", Usage: "build the aux heads (" + auxNames(a) + "); false accepts and ignores their weights, as torchvision does"},
				{Name: "transform_input", Default: "false", Usage: "re-normalise ImageNet-normalised input as the pretrained torchvision weights expect (true for those)"},
				bridge.PrefixOptionSpec,
			},
			Doc: a.doc + ", as torchvision 0.14 defines it",
		})
	}
	return d, nil
}

// auxNames lists the aux heads' module names.
func auxNames(a arch) string {
	names := make([]string, len(a.auxPrefixes))
	for i, p := range a.auxPrefixes {
		names[i] = strings.TrimSuffix(p, ".")
	}
	return strings.Join(names, ", ")
}

// devices lists "cpu" and the GPU devices the ONNX Runtime library offers.
func devices() []string {
	out := []string{"cpu"}
	for _, d := range ort.Devices() {
		if d.Available && d.Device != "cpu" {
			out = append(out, d.Device)
		}
	}
	return out
}

// Load builds a model, with a seeded random init or a checkpoint loaded
// strictly (every key, no extra, matching shapes).
func (backbone) Load(ctx context.Context, req *sdk.LoadRequest) (sdk.Model, error) {
	a, ok := findArch(req.Arch)
	if !ok {
		names := make([]string, len(archs))
		for i, x := range archs {
			names[i] = x.name
		}
		return nil, fmt.Errorf("inception: arch %q: %w; the plugin offers %s", req.Arch, sdk.ErrUnknownArch, strings.Join(names, ", "))
	}
	o, err := parseOptions(a, req.Options)
	if err != nil {
		return nil, err
	}
	var opts []ort.Option
	if req.Threads > 0 {
		opts = append(opts, ort.WithThreads(req.Threads))
	}
	if req.Device != "" {
		opts = append(opts, ort.WithDevice(req.Device))
	}
	m := &model{arch: a, o: o, opts: opts}
	m.graph = a.build(o, a.input)
	if err := m.graph.Err(); err != nil {
		return nil, fmt.Errorf("inception: build %s: %w", a.name, err)
	}
	specs := m.graph.Specs()
	if req.WeightsPath == "" {
		if req.WeightsFormat != sdk.FormatNone {
			return nil, fmt.Errorf("inception: weights format %q without a path: %w: set WeightsPath", req.WeightsFormat, sdk.ErrBadOption)
		}
		m.weights = nn.RandomWeights(specs, req.Seed)
	} else {
		w, err := loadWeights(m, specs, req)
		if err != nil {
			return nil, err
		}
		m.weights = w
	}
	m.trainable = map[string]bool{}
	for _, p := range m.graph.Params() {
		m.trainable[p.Name] = true
	}
	// Fail at Load, not at the first Extract, when a GPU is unusable.
	if req.Device != "" && req.Device != "cpu" {
		c, err := m.session(m.graph, []string{m.graph.LayerNames()[0]}, "")
		if err == nil {
			err = m.release(c)
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("inception: %s: %w", a.name, err), m.Close())
		}
	}
	return m, nil
}

// loadWeights reads a checkpoint with the bridge and matches it strictly.
func loadWeights(m *model, specs []nn.ParamSpec, req *sdk.LoadRequest) (*nn.Weights, error) {
	switch f := req.WeightsFormat; f {
	case sdk.FormatNone, sdk.FormatPTH, sdk.FormatSafetensors:
	default:
		return nil, fmt.Errorf("inception: weights format %q: %w: use a .pth or .safetensors state_dict", f, sdk.ErrUnsupported)
	}
	prefix, _ := bridge.TakePrefix(req.Options)
	sd, err := bridge.LoadStripped(req.WeightsPath, prefix)
	if err != nil {
		return nil, fmt.Errorf("inception: %w", err) // err names the file
	}
	// Without aux heads, their keys are accepted and ignored, as
	// torchvision's builders drop the heads after loading.
	var matchOpts []bridge.MatchOption
	if !m.o.auxLogits {
		var pats []string
		for _, p := range m.arch.auxPrefixes {
			pats = append(pats, p+"*")
			for k := range sd.Tensors {
				if strings.HasPrefix(k, p) {
					delete(sd.Tensors, k)
				}
			}
		}
		matchOpts = append(matchOpts, bridge.IgnoreKeys(pats...))
	}
	want := make([]bridge.Spec, 0, len(specs))
	for _, s := range specs {
		if s.Optional {
			if _, ok := sd.Tensors[s.Name]; !ok {
				continue // torch accepts a missing num_batches_tracked
			}
		}
		want = append(want, bridge.Spec{Name: s.Name, Shape: s.Shape})
	}
	if err := sd.Match(want, matchOpts...); err != nil {
		return nil, fmt.Errorf("inception: %s weights %s: %w%s", m.arch.name, filepath.Base(req.WeightsPath), err, mismatchHint(m, sd.Tensors))
	}
	w, err := nn.LoadWeights(specs, sd.Tensors)
	if err != nil {
		return nil, fmt.Errorf("inception: %s weights %s: %w", m.arch.name, filepath.Base(req.WeightsPath), err)
	}
	return w, nil
}

// mismatchHint explains the usual causes of a checkpoint that does not
// fit: the other network, aux heads, or another num_classes.
func mismatchHint(m *model, sd map[string]*sdk.Tensor) string {
	for _, a := range archs {
		if a.name == m.arch.name {
			continue
		}
		if _, ok := sd[a.build(options{numClasses: 1000}, a.input).Specs()[0].Name]; ok {
			return fmt.Sprintf(" (the checkpoint looks like %s: load it with that arch)", a.name)
		}
	}
	if fc := sd["fc.weight"]; fc != nil && len(fc.Shape) == 2 && fc.Shape[0] != m.o.numClasses {
		return fmt.Sprintf(" (fc has %d classes in the checkpoint and %d in the model: set option num_classes=%d)", fc.Shape[0], m.o.numClasses, fc.Shape[0])
	}
	if m.o.auxLogits {
		for _, p := range m.arch.auxPrefixes {
			if _, ok := sd[p+"fc.weight"]; !ok {
				if _, ok := sd[p+"fc2.weight"]; !ok {
					return " (the checkpoint has no aux heads, as torchvision's pretrained weights without them: set option aux_logits=false)"
				}
			}
		}
	}
	return " (the checkpoint looks like another architecture: load it with the arch it was saved from)"
}

// parseOptions reads num_classes, aux_logits and transform_input.
func parseOptions(a arch, in map[string]string) (options, error) {
	o := options{numClasses: 1000, auxLogits: true}
	_, own := bridge.TakePrefix(in)
	for k, v := range own {
		switch k {
		case "num_classes":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 1 {
				return o, fmt.Errorf("inception: option num_classes=%q: %w: give a positive integer", v, sdk.ErrBadOption)
			}
			o.numClasses = n
		case "aux_logits", "transform_input":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return o, fmt.Errorf("inception: option %s=%q: %w: give true or false", k, v, sdk.ErrBadOption)
			}
			if k == "aux_logits" {
				o.auxLogits = b
			} else {
				o.transformInput = b
			}
		default:
			return o, fmt.Errorf("inception: option %q: %w: %s takes num_classes, aux_logits and transform_input", k, sdk.ErrBadOption, a.name)
		}
	}
	return o, nil
}

// model is one loaded network.
type model struct {
	arch    arch
	o       options
	opts    []ort.Option
	graph   *nn.Builder // for the default input; read-only
	weights *nn.Weights

	mu        sync.Mutex
	closed    bool
	trainable map[string]bool
	sessions  []*cached // most recently used last
}

// cached is one ONNX Runtime session, counted by its users (refs).
type cached struct {
	key     string
	s       *ort.Session
	refs    int
	evicted bool
}

var _ sdk.Model = (*model)(nil)

func (m *model) check() error {
	if m.closed {
		return fmt.Errorf("inception: %s: %w", m.arch.name, sdk.ErrClosed)
	}
	return nil
}

// Layers lists every torchvision module of the arch with its output shape
// for req.InputShape (default: the arch's input).
func (m *model) Layers(ctx context.Context, req *sdk.LayersRequest) ([]sdk.Layer, error) {
	m.mu.Lock()
	err := m.check()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	shape := m.arch.input
	if req != nil && len(req.InputShape) > 0 {
		shape = req.InputShape
	}
	if err := checkShape(shape, true); err != nil {
		return nil, err
	}
	b := m.arch.build(m.o, batchFree(shape))
	if err := b.Err(); err != nil {
		return nil, fmt.Errorf("inception: %s: %w", m.arch.name, err)
	}
	return b.Layers(), nil
}

// batchFree returns shape with the batch dimension made -1.
func batchFree(shape []int64) []int64 {
	s := slices.Clone(shape)
	s[0] = -1
	return s
}

// checkShape checks an input shape [N, 3, H, W]; free allows -1 for N.
func checkShape(shape []int64, free bool) error {
	want := []int64{-1, 3, -1, -1}
	bad := len(shape) != 4 || shape[1] != 3
	if !bad {
		for i, d := range shape {
			if d == 0 || (d < 0 && !(free && i == 0)) {
				bad = true
			}
		}
	}
	if bad {
		return &sdk.ShapeError{What: "input", Want: want, Got: shape, Hint: "give a batch of RGB images as [N, 3, H, W] float32"}
	}
	return nil
}

// Extract runs one forward pass and returns every requested layer
// (default: fc).
func (m *model) Extract(ctx context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	if req == nil || req.Input == nil {
		return nil, fmt.Errorf("inception: extract: %w: no input tensor", sdk.ErrBadInput)
	}
	x := req.Input
	if x.DType() != sdk.Float32 {
		return nil, &sdk.ShapeError{What: "input", DType: x.DType(), WantDType: sdk.Float32, Want: []int64{-1, 3, -1, -1}, Got: x.Shape, Hint: "convert the input to float32"}
	}
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("inception: extract: %w", err)
	}
	if err := checkShape(x.Shape, false); err != nil {
		return nil, sdk.WithDTypes(err, x.DType(), sdk.Float32)
	}
	layers := req.Layers
	if len(layers) == 0 {
		layers = []string{defaultLayer}
	}
	for _, l := range layers {
		if _, err := m.graph.Layer(l); err != nil {
			return nil, err
		}
	}
	// The graph for this input size: it must be valid (input big
	// enough) and have the layers (inception_v3's aux head needs a large
	// input); GoogLeNet's aux heads depend on the size.
	g := m.arch.build(m.o, batchFree(x.Shape))
	if g.Err() != nil {
		return nil, fmt.Errorf("inception: %s: %w", m.arch.name, g.Err())
	}
	for _, l := range layers {
		if _, err := g.Layer(l); err != nil {
			return nil, fmt.Errorf("inception: %s: layer %s needs a larger input than %dx%d (about 299x299): %w", m.arch.name, l, x.Shape[2], x.Shape[3], sdk.ErrBadInput)
		}
	}
	size := ""
	if !sizeFree(m.arch, layers) {
		size = fmt.Sprintf("%dx%d", x.Shape[2], x.Shape[3])
	}
	c, err := m.session(g, layers, size)
	if err != nil {
		return nil, err
	}
	out, err := c.s.Run(ctx, map[string]*sdk.Tensor{inputName: x}, nil)
	err = errors.Join(err, m.release(c))
	if err != nil {
		return nil, fmt.Errorf("inception: %s: extract: %w", m.arch.name, err)
	}
	return &sdk.ExtractResponse{Outputs: out}, nil
}

// session returns a cached session whose outputs are exactly layers, for
// input size (empty when the layers serve every size), creating it from
// g (and evicting the least recently used one) when needed. The caller
// must call release on it when its Run is done; an evicted session
// closes when its last user releases it.
func (m *model) session(g *nn.Builder, layers []string, size string) (*cached, error) {
	outs := slices.Clone(layers)
	slices.Sort(outs)
	outs = slices.Compact(outs)
	key := size + "\x00" + strings.Join(outs, "\x00")
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	for i, c := range m.sessions {
		if c.key == key {
			m.sessions = append(append(m.sessions[:i:i], m.sessions[i+1:]...), c)
			c.refs++
			return c, nil
		}
	}
	// Evict before creating, so that at most maxSessions weight copies
	// live besides those still running.
	var evictErr error
	for len(m.sessions) >= maxSessions {
		evictErr = errors.Join(evictErr, m.sessions[0].evict())
		m.sessions = m.sessions[1:]
	}
	onnx, err := g.ONNX(m.weights, outs)
	if err != nil {
		return nil, errors.Join(err, evictErr)
	}
	s, err := ort.NewSession(onnx, m.opts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("inception: %s: create session: %w", m.arch.name, err), evictErr)
	}
	c := &cached{key: key, s: s, refs: 1}
	m.sessions = append(m.sessions, c)
	return c, evictErr
}

// evict drops the cache's reference; called with m.mu held.
func (c *cached) evict() error {
	c.evicted = true
	if c.refs == 0 {
		return c.s.Close()
	}
	return nil
}

// release ends one use of c.
func (m *model) release(c *cached) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.refs--
	if c.evicted && c.refs == 0 {
		return c.s.Close()
	}
	return nil
}

// Params lists the parameters (state_dict names without buffers) with
// their trainable flags.
func (m *model) Params(ctx context.Context) ([]sdk.Param, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	ps := m.graph.Params()
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
	resp, err := sdkbackbone.ApplyTrainable(m.graph.Params(), m.trainable, req)
	if err != nil {
		return nil, fmt.Errorf("inception: %w", err)
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
	var err error
	for _, c := range m.sessions {
		err = errors.Join(err, c.evict())
	}
	m.sessions = nil
	m.weights = nil
	return err
}
