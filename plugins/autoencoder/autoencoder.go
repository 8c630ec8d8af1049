package autoencoder

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

// maxSessions bounds the cached ONNX Runtime sessions, one per set of
// requested layers.
const maxSessions = 2

// New returns the autoencoder backbone. It is safe for concurrent use.
func New() sdk.Backbone { return backbone{} }

type backbone struct{}

var _ sdk.Backbone = backbone{}

var archOptions = map[string][]sdk.OptionSpec{
	"conv_autoencoder": {
		{Name: "in_channels", Default: "1", Usage: "input channels"},
		{Name: "input_size", Default: "28", Usage: "input height and width; divisible by 2^(number of channels)"},
		{Name: "channels", Default: "16:32", Usage: "encoder conv channels, colon-separated (each conv halves the size)"},
		{Name: "latent_size", Default: "16", Usage: "latent code size"},
	},
	"mlp_autoencoder": {
		{Name: "input_size", Default: "784", Usage: "input features"},
		{Name: "hidden", Default: "256:64", Usage: "encoder hidden sizes, colon-separated (the decoder mirrors them)"},
		{Name: "latent_size", Default: "16", Usage: "latent code size"},
	},
}

// Describe lists conv_autoencoder and mlp_autoencoder.
func (backbone) Describe(ctx context.Context) (*sdk.Description, error) {
	d := &sdk.Description{
		Name:          "autoencoder",
		Version:       Version,
		ProtocolMinor: sdk.ProtocolMinor,
		Capabilities:  sdk.Capabilities{Extract: true, Devices: devices()},
	}
	for _, a := range []string{"conv_autoencoder", "mlp_autoencoder"} {
		c, _ := configure(a, nil)
		doc := "ConvAutoencoder of plugins/autoencoder/testdata/autoencoder.py"
		if !c.conv {
			doc = "MLPAutoencoder of plugins/autoencoder/testdata/autoencoder.py"
		}
		d.Archs = append(d.Archs, sdk.Arch{
			Name:    a,
			Input:   sdk.InputSpec{Shape: c.inputShape(), DType: sdk.Float32},
			Options: append(slices.Clone(archOptions[a]), bridge.PrefixOptionSpec),
			Doc:     doc,
		})
	}
	return d, nil
}

func devices() []string {
	out := []string{"cpu"}
	for _, d := range ort.Devices() {
		if d.Available && d.Device != "cpu" {
			out = append(out, d.Device)
		}
	}
	return out
}

// configure reads options over the defaults.
func configure(arch string, opts map[string]string) (*config, error) {
	specs, ok := archOptions[arch]
	if !ok {
		return nil, fmt.Errorf("autoencoder: arch %q: %w; the plugin offers conv_autoencoder, mlp_autoencoder", arch, sdk.ErrUnknownArch)
	}
	vals := map[string]string{}
	var names []string
	for _, s := range specs {
		vals[s.Name] = s.Default
		names = append(names, s.Name)
	}
	for k, v := range opts {
		if _, ok := vals[k]; !ok {
			return nil, fmt.Errorf("autoencoder: option %q: %w: %s takes %s", k, sdk.ErrBadOption, arch, strings.Join(names, ", "))
		}
		vals[k] = strings.TrimSpace(v)
	}
	num := func(name string) (int64, error) {
		n, err := strconv.ParseInt(vals[name], 10, 64)
		if err != nil || n < 1 {
			return 0, fmt.Errorf("autoencoder: option %s=%q: %w: give a positive integer", name, vals[name], sdk.ErrBadOption)
		}
		return n, nil
	}
	list := func(name string) ([]int64, error) {
		var out []int64
		for _, f := range strings.Split(vals[name], ":") {
			n, err := strconv.ParseInt(strings.TrimSpace(f), 10, 64)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("autoencoder: option %s=%q: %w: give positive integers separated by colons, e.g. 16:32", name, vals[name], sdk.ErrBadOption)
			}
			out = append(out, n)
		}
		return out, nil
	}
	c := &config{arch: arch, conv: arch == "conv_autoencoder"}
	var err error
	if c.inputSize, err = num("input_size"); err != nil {
		return nil, err
	}
	if c.latent, err = num("latent_size"); err != nil {
		return nil, err
	}
	if c.conv {
		if c.inChannels, err = num("in_channels"); err != nil {
			return nil, err
		}
		if c.widths, err = list("channels"); err != nil {
			return nil, err
		}
		if len(c.widths) > 16 || c.inputSize%(int64(1)<<len(c.widths)) != 0 {
			return nil, fmt.Errorf("autoencoder: input_size %d with %d convolutions: %w: input_size must be divisible by 2^%d", c.inputSize, len(c.widths), sdk.ErrBadOption, len(c.widths))
		}
	} else if c.widths, err = list("hidden"); err != nil {
		return nil, err
	}
	return c, nil
}

// Load builds a model with a seeded random init or a checkpoint matched
// strictly against the options' shapes.
func (backbone) Load(ctx context.Context, req *sdk.LoadRequest) (sdk.Model, error) {
	prefix, own := bridge.TakePrefix(req.Options)
	c, err := configure(req.Arch, own)
	if err != nil {
		return nil, err
	}
	m := &model{cfg: c, graph: c.build()}
	if err := m.graph.Err(); err != nil {
		return nil, fmt.Errorf("autoencoder: build %s: %w", c.arch, err)
	}
	if req.Threads > 0 {
		m.opts = append(m.opts, ort.WithThreads(req.Threads))
	}
	if req.Device != "" {
		m.opts = append(m.opts, ort.WithDevice(req.Device))
	}
	specs := m.graph.Specs()
	switch {
	case req.WeightsPath == "" && req.WeightsFormat != sdk.FormatNone:
		return nil, fmt.Errorf("autoencoder: weights format %q without a path: %w: set WeightsPath", req.WeightsFormat, sdk.ErrBadOption)
	case req.WeightsPath == "":
		m.weights = nn.RandomWeights(specs, req.Seed)
	case req.WeightsFormat != sdk.FormatNone && req.WeightsFormat != sdk.FormatPTH && req.WeightsFormat != sdk.FormatSafetensors:
		return nil, fmt.Errorf("autoencoder: weights format %q: %w: use a .pth or .safetensors state_dict", req.WeightsFormat, sdk.ErrUnsupported)
	default:
		sd, err := bridge.LoadStripped(req.WeightsPath, prefix)
		if err != nil {
			return nil, fmt.Errorf("autoencoder: %w", err) // err names the file
		}
		w, err := nn.LoadWeights(specs, sd.Tensors)
		if err != nil {
			return nil, fmt.Errorf("autoencoder: %s weights %s: %w (set the options the module was built with: %s)",
				c.arch, filepath.Base(req.WeightsPath), err, optionNames(c.arch))
		}
		m.weights = w
	}
	m.trainable = map[string]bool{}
	for _, p := range m.graph.Params() {
		m.trainable[p.Name] = true
	}
	return m, nil
}

func optionNames(arch string) string {
	var out []string
	for _, s := range archOptions[arch] {
		out = append(out, s.Name)
	}
	return strings.Join(out, ", ")
}

// model is one loaded autoencoder.
type model struct {
	cfg     *config
	opts    []ort.Option
	graph   *nn.Builder // read-only
	weights *nn.Weights

	mu        sync.Mutex
	closed    bool
	trainable map[string]bool
	sessions  []*cached
}

type cached struct {
	key     string
	s       *ort.Session
	refs    int
	evicted bool
}

var _ sdk.Model = (*model)(nil)

func (m *model) check() error {
	if m.closed {
		return fmt.Errorf("autoencoder: %s: %w", m.cfg.arch, sdk.ErrClosed)
	}
	return nil
}

func (m *model) checkShape(shape []int64, free bool) error {
	want := m.cfg.inputShape()
	ok := len(shape) == len(want)
	for i := 0; ok && i < len(want); i++ {
		switch {
		case i == 0:
			ok = shape[0] >= 0 || free
		default:
			ok = shape[i] == want[i]
		}
	}
	if !ok {
		return &sdk.ShapeError{What: "input", Want: want, Got: shape, Hint: "give float32 inputs of the size the options set (input_size, in_channels)"}
	}
	return nil
}

// Layers lists every encoder and decoder module, then latent,
// reconstruction and mse. The input size is fixed by the options.
func (m *model) Layers(ctx context.Context, req *sdk.LayersRequest) ([]sdk.Layer, error) {
	m.mu.Lock()
	err := m.check()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	if req != nil && len(req.InputShape) > 0 {
		if err := m.checkShape(req.InputShape, true); err != nil {
			return nil, err
		}
	}
	return m.graph.Layers(), nil
}

// Extract runs one forward pass (default layer: latent).
func (m *model) Extract(ctx context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	if req == nil || req.Input == nil {
		return nil, fmt.Errorf("autoencoder: extract: %w: no input tensor", sdk.ErrBadInput)
	}
	x := req.Input
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("autoencoder: extract: %w", err)
	}
	if x.DType() != sdk.Float32 {
		return nil, &sdk.ShapeError{What: "input", DType: x.DType(), WantDType: sdk.Float32, Want: m.cfg.inputShape(), Got: x.Shape, Hint: "convert the input to float32"}
	}
	if err := m.checkShape(x.Shape, false); err != nil {
		return nil, sdk.WithDTypes(err, x.DType(), sdk.Float32)
	}
	if req.Lengths != nil {
		return nil, fmt.Errorf("autoencoder: extract: %w: lengths are for sequence models; drop them", sdk.ErrBadInput)
	}
	layers := req.Layers
	if len(layers) == 0 {
		layers = []string{"latent"}
	}
	for _, l := range layers {
		if _, err := m.graph.Layer(l); err != nil {
			return nil, err
		}
	}
	c, err := m.session(layers)
	if err != nil {
		return nil, err
	}
	out, err := c.s.Run(ctx, map[string]*sdk.Tensor{inputName: x}, nil)
	err = errors.Join(err, m.release(c))
	if err != nil {
		return nil, fmt.Errorf("autoencoder: %s: extract: %w", m.cfg.arch, err)
	}
	return &sdk.ExtractResponse{Outputs: out}, nil
}

func (m *model) session(layers []string) (*cached, error) {
	outs := slices.Clone(layers)
	slices.Sort(outs)
	outs = slices.Compact(outs)
	key := strings.Join(outs, "\x00")
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
	var evictErr error
	for len(m.sessions) >= maxSessions {
		evictErr = errors.Join(evictErr, m.sessions[0].evict())
		m.sessions = m.sessions[1:]
	}
	onnx, err := m.graph.ONNX(m.weights, outs)
	if err != nil {
		return nil, errors.Join(err, evictErr)
	}
	s, err := ort.NewSession(onnx, m.opts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("autoencoder: %s: create session: %w", m.cfg.arch, err), evictErr)
	}
	c := &cached{key: key, s: s, refs: 1}
	m.sessions = append(m.sessions, c)
	return c, evictErr
}

func (c *cached) evict() error {
	c.evicted = true
	if c.refs == 0 {
		return c.s.Close()
	}
	return nil
}

func (m *model) release(c *cached) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	c.refs--
	if c.evicted && c.refs == 0 {
		return c.s.Close()
	}
	return nil
}

// Params lists the parameters by state_dict name with trainable flags.
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
// pattern, such as "encoder.*".
func (m *model) SetTrainable(ctx context.Context, req *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	resp, err := sdkbackbone.ApplyTrainable(m.graph.Params(), m.trainable, req)
	if err != nil {
		return nil, fmt.Errorf("autoencoder: %w", err)
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
