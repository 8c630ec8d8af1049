package lstm

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sort"
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
	// defaultSteps is the sequence length Layers reports shapes for when
	// no input shape is given.
	defaultSteps = 16
	// maxSteps bounds the sequence length.
	maxSteps = 1 << 20
	// maxUnrolled bounds it with proj_size, whose layers are unrolled
	// over the steps.
	maxUnrolled = 1024
	// maxSessions bounds the cached ONNX Runtime sessions, one per
	// sequence length and set of requested layers.
	maxSessions = 4
)

// New returns the recurrent backbone (archs lstm and gru). It is safe for
// concurrent use.
func New() sdk.Backbone { return backbone{} }

type backbone struct{}

var _ sdk.Backbone = backbone{}

// options lists the options both archs take, with their defaults.
var options = []sdk.OptionSpec{
	{Name: "input_size", Default: "8", Usage: "features per step (read from the checkpoint when given)"},
	{Name: "hidden_size", Default: "16", Usage: "hidden state size (from the checkpoint)"},
	{Name: "num_layers", Default: "1", Usage: "stacked layers (from the checkpoint)"},
	{Name: "bidirectional", Default: "false", Usage: "two directions (from the checkpoint)"},
	{Name: "batch_first", Default: "true", Usage: "input [N,T,F] (true) or torch's default [T,N,F] (false); not in checkpoints"},
	{Name: "bias", Default: "true", Usage: "bias_ih/bias_hh present (from the checkpoint)"},
	{Name: "num_embeddings", Default: "0", Usage: "vocabulary of an nn.Embedding front taking int64 token ids; 0: none (from the checkpoint)"},
	{Name: "embedding_dim", Default: "input_size", Usage: "embedding size; must equal input_size"},
	{Name: "num_classes", Default: "0", Usage: "outputs of an nn.Linear head fc; 0: none (from the checkpoint)"},
	{Name: "fc_input", Default: "last", Usage: "what fc reads: last (output at the last valid step), mean (over valid steps) or h_n (last layer's final states)"},
}

var lstmOnly = sdk.OptionSpec{Name: "proj_size", Default: "0", Usage: "LSTM projection size, below hidden_size; 0: none (from the checkpoint)"}

// Describe lists the archs lstm and gru.
func (backbone) Describe(ctx context.Context) (*sdk.Description, error) {
	d := &sdk.Description{
		Name:          "lstm",
		Version:       Version,
		ProtocolMinor: sdk.ProtocolMinor,
		Capabilities:  sdk.Capabilities{Extract: true, Devices: devices()},
	}
	for _, a := range []string{"lstm", "gru"} {
		opts := slices.Clone(options)
		doc := "torch.nn.GRU encoder with optional embedding and fc"
		opts = append(opts, bridge.PrefixOptionSpec)
		if a == "lstm" {
			opts = append(opts, lstmOnly)
			doc = "torch.nn.LSTM encoder (proj_size too) with optional embedding and fc"
		}
		d.Archs = append(d.Archs, sdk.Arch{
			Name:    a,
			Input:   sdk.InputSpec{Shape: []int64{-1, defaultSteps, 8}, DType: sdk.Float32},
			Options: opts,
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

// given holds the options a LoadRequest set explicitly.
type given map[string]string

func parseOptions(arch string, opts map[string]string) (given, error) {
	g := given{}
	for k, v := range opts {
		known := k == lstmOnly.Name && arch == "lstm"
		for _, o := range options {
			known = known || o.Name == k
		}
		if !known {
			names := make([]string, 0, len(options)+1)
			for _, o := range options {
				names = append(names, o.Name)
			}
			if arch == "lstm" {
				names = append(names, lstmOnly.Name)
			}
			hint := ""
			if s := sdk.Suggest(k, names, 1); len(s) > 0 {
				hint = "; did you mean " + s[0] + "?"
			}
			return nil, fmt.Errorf("%s: option %q: %w: %s takes %s%s", arch, k, sdk.ErrBadOption, arch, strings.Join(names, ", "), hint)
		}
		g[k] = strings.TrimSpace(v)
	}
	return g, nil
}

func (g given) int(arch, name string, def, minimum int64) (int64, bool, error) {
	v, ok := g[name]
	if !ok {
		return def, false, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < minimum {
		return 0, true, fmt.Errorf("%s: option %s=%q: %w: give an integer >= %d", arch, name, v, sdk.ErrBadOption, minimum)
	}
	return n, true, nil
}

func (g given) bool(arch, name string, def bool) (bool, bool, error) {
	v, ok := g[name]
	if !ok {
		return def, false, nil
	}
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, true, nil
	case "false", "0", "no":
		return false, true, nil
	}
	return false, true, fmt.Errorf("%s: option %s=%q: %w: give true or false", arch, name, v, sdk.ErrBadOption)
}

// configure turns options (and, when sd is not nil, a checkpoint's
// shapes) into a config. An option that contradicts the checkpoint is an
// error.
func configure(arch string, g given, sd *ckpt) (*config, error) {
	c := &config{arch: arch, rnn: nn.RNN{Mode: strings.ToUpper(arch)}}
	var err error
	var contra []string
	setInt := func(dst *int64, name string, def, minimum int64, fromCkpt int64, have bool) {
		if err != nil {
			return
		}
		v, set, e := g.int(arch, name, def, minimum)
		if e != nil {
			err = e
			return
		}
		if have {
			if set && v != fromCkpt {
				contra = append(contra, fmt.Sprintf("%s=%d but the checkpoint has %d", name, v, fromCkpt))
			}
			v = fromCkpt
		}
		*dst = v
	}
	setBool := func(dst *bool, name string, def bool, fromCkpt bool, have bool) {
		if err != nil {
			return
		}
		v, set, e := g.bool(arch, name, def)
		if e != nil {
			err = e
			return
		}
		if have {
			if set && v != fromCkpt {
				contra = append(contra, fmt.Sprintf("%s=%v but the checkpoint has %v", name, v, fromCkpt))
			}
			v = fromCkpt
		}
		*dst = v
	}
	var k ckpt
	if sd != nil {
		k = *sd
	}
	have := sd != nil
	setInt(&c.rnn.InputSize, "input_size", 8, 1, k.inputSize, have)
	setInt(&c.rnn.HiddenSize, "hidden_size", 16, 1, k.hiddenSize, have)
	setInt(&c.rnn.NumLayers, "num_layers", 1, 1, k.numLayers, have)
	setBool(&c.rnn.Bidirectional, "bidirectional", false, k.bidirectional, have)
	setBool(&c.rnn.BatchFirst, "batch_first", true, false, false)
	setBool(&c.rnn.Bias, "bias", true, k.bias, have)
	if arch == "lstm" {
		setInt(&c.rnn.ProjSize, "proj_size", 0, 0, k.projSize, have)
	}
	setInt(&c.numEmbeddings, "num_embeddings", 0, 0, k.numEmbeddings, have)
	setInt(&c.numClasses, "num_classes", 0, 0, k.numClasses, have)
	if err != nil {
		return nil, err
	}
	c.embeddingDim = c.rnn.InputSize
	if c.numEmbeddings > 0 {
		setInt(&c.embeddingDim, "embedding_dim", c.rnn.InputSize, 1, k.embeddingDim, have && k.numEmbeddings > 0)
		if err != nil {
			return nil, err
		}
		if c.embeddingDim != c.rnn.InputSize {
			return nil, fmt.Errorf("%s: embedding_dim %d differs from input_size %d: %w: the embedding feeds the %s, so they must agree", arch, c.embeddingDim, c.rnn.InputSize, sdk.ErrBadOption, arch)
		}
	} else if _, ok := g["embedding_dim"]; ok {
		return nil, fmt.Errorf("%s: embedding_dim without num_embeddings: %w: set num_embeddings too", arch, sdk.ErrBadOption)
	}
	c.fcBias = true
	if have {
		c.fcBias = k.fcBias
	}
	c.fcInput = "last"
	if v, ok := g["fc_input"]; ok {
		if v != "last" && v != "mean" && v != "h_n" {
			return nil, fmt.Errorf("%s: option fc_input=%q: %w: give last, mean or h_n", arch, v, sdk.ErrBadOption)
		}
		c.fcInput = v
	}
	if have && k.numClasses > 0 && k.fcIn != c.fcIn() {
		contra = append(contra, fmt.Sprintf("fc takes %d features but the %s gives %d", k.fcIn, arch, c.fcIn()))
	}
	if len(contra) > 0 {
		return nil, fmt.Errorf("%s: options contradict the checkpoint: %s: %w: drop those options (the checkpoint's shapes set them) or load another checkpoint",
			arch, strings.Join(contra, "; "), sdk.ErrWeights)
	}
	if c.rnn.ProjSize > 0 && c.rnn.ProjSize >= c.rnn.HiddenSize {
		return nil, fmt.Errorf("%s: proj_size %d: %w: it must be below hidden_size %d", arch, c.rnn.ProjSize, sdk.ErrBadOption, c.rnn.HiddenSize)
	}
	return c, nil
}

// ckpt holds the sizes a checkpoint's shapes give.
type ckpt struct {
	tensors       map[string]*sdk.Tensor // keys renamed to the module layout
	inputSize     int64
	hiddenSize    int64
	numLayers     int64
	bidirectional bool
	bias          bool
	projSize      int64
	numEmbeddings int64
	embeddingDim  int64
	numClasses    int64
	fcIn          int64
	fcBias        bool
}

// readCheckpoint reads a bare nn.LSTM/nn.GRU state_dict (weight_ih_l0,
// ...) or one of a module holding it as lstm/gru with optional embedding
// and fc, and returns it keyed by the module layout with its sizes.
func readCheckpoint(arch, path, prefix string) (*ckpt, error) {
	sd, err := bridge.LoadStripped(path, prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arch, err) // err names the file
	}
	base := filepath.Base(path)
	other := map[string]string{"lstm": "gru", "gru": "lstm"}[arch]
	k := &ckpt{tensors: map[string]*sdk.Tensor{}}
	for name, t := range sd.Tensors {
		switch {
		case strings.HasPrefix(name, arch+"."), strings.HasPrefix(name, "embedding."), strings.HasPrefix(name, "fc."):
			k.tensors[name] = t
		case strings.HasPrefix(name, other+"."):
			return nil, fmt.Errorf("%s: %s holds a %s (key %s): %w: load it with --arch %s", arch, base, strings.ToUpper(other), name, sdk.ErrWeights, other)
		case strings.HasPrefix(name, "weight_") || strings.HasPrefix(name, "bias_"):
			k.tensors[arch+"."+name] = t
		default:
			k.tensors[name] = t // reported as unexpected by the strict match
		}
	}
	shape := func(name string) []int64 {
		if t := k.tensors[name]; t != nil {
			return t.Shape
		}
		return nil
	}
	wih, whh := shape(arch+".weight_ih_l0"), shape(arch+".weight_hh_l0")
	if len(wih) != 2 || len(whh) != 2 {
		var keys []string
		for name := range sd.Tensors {
			keys = append(keys, name)
		}
		sort.Strings(keys)
		if len(keys) > 6 {
			keys = append(keys[:6], "...")
		}
		return nil, fmt.Errorf("%s: %s has no 2-d %s.weight_ih_l0 and weight_hh_l0 (keys: %s): %w: save an nn.%s's state_dict, or a module's that holds it as %q",
			arch, base, arch, strings.Join(keys, ", "), sdk.ErrWeights, strings.ToUpper(arch), arch)
	}
	gates := int64(4)
	if arch == "gru" {
		gates = 3
	}
	if whr := shape(arch + ".weight_hr_l0"); len(whr) == 2 {
		k.projSize = whr[0]
	}
	out := whh[1]
	if wih[0]%gates != 0 || (k.projSize == 0 && wih[0] != gates*out) {
		return nil, fmt.Errorf("%s: %s.weight_ih_l0 %s and weight_hh_l0 %s do not fit %d gates: %w: the checkpoint looks like an nn.%s; load it with --arch %s",
			arch, arch, sdk.FormatShape(wih), sdk.FormatShape(whh), gates, sdk.ErrWeights, strings.ToUpper(other), other)
	}
	k.inputSize, k.hiddenSize = wih[1], wih[0]/gates
	for shape(fmt.Sprintf("%s.weight_ih_l%d", arch, k.numLayers)) != nil {
		k.numLayers++
	}
	k.bidirectional = shape(arch+".weight_ih_l0_reverse") != nil
	k.bias = shape(arch+".bias_ih_l0") != nil
	if e := shape("embedding.weight"); len(e) == 2 {
		k.numEmbeddings, k.embeddingDim = e[0], e[1]
	}
	if f := shape("fc.weight"); len(f) == 2 {
		k.numClasses, k.fcIn = f[0], f[1]
		k.fcBias = shape("fc.bias") != nil
	}
	return k, nil
}

// Load builds a model, with a seeded random init or a checkpoint whose
// shapes set the sizes and which is then matched strictly.
func (backbone) Load(ctx context.Context, req *sdk.LoadRequest) (sdk.Model, error) {
	if req.Arch != "lstm" && req.Arch != "gru" {
		return nil, fmt.Errorf("lstm: arch %q: %w; the plugin offers lstm, gru", req.Arch, sdk.ErrUnknownArch)
	}
	prefix, own := bridge.TakePrefix(req.Options)
	g, err := parseOptions(req.Arch, own)
	if err != nil {
		return nil, err
	}
	var k *ckpt
	if req.WeightsPath != "" {
		switch f := req.WeightsFormat; f {
		case sdk.FormatNone, sdk.FormatPTH, sdk.FormatSafetensors:
		default:
			return nil, fmt.Errorf("%s: weights format %q: %w: use a .pth or .safetensors state_dict", req.Arch, f, sdk.ErrUnsupported)
		}
		if k, err = readCheckpoint(req.Arch, req.WeightsPath, prefix); err != nil {
			return nil, err
		}
	} else if req.WeightsFormat != sdk.FormatNone {
		return nil, fmt.Errorf("%s: weights format %q without a path: %w: set WeightsPath", req.Arch, req.WeightsFormat, sdk.ErrBadOption)
	}
	c, err := configure(req.Arch, g, k)
	if err != nil {
		return nil, err
	}
	m := &model{cfg: c}
	if req.Threads > 0 {
		m.opts = append(m.opts, ort.WithThreads(req.Threads))
	}
	if req.Device != "" {
		m.opts = append(m.opts, ort.WithDevice(req.Device))
	}
	m.graph = c.build(defaultSteps)
	if err := m.graph.Err(); err != nil {
		return nil, fmt.Errorf("%s: build: %w", c.arch, err)
	}
	specs := m.graph.Specs()
	if k == nil {
		m.weights = nn.RandomWeights(specs, req.Seed)
	} else {
		w, err := nn.LoadWeights(specs, k.tensors)
		if err != nil {
			return nil, fmt.Errorf("%s: weights %s: %w", c.arch, filepath.Base(req.WeightsPath), err)
		}
		m.weights = w
	}
	m.trainable = map[string]bool{}
	for _, p := range m.graph.Params() {
		m.trainable[p.Name] = true
	}
	return m, nil
}

// model is one loaded recurrent encoder.
type model struct {
	cfg     *config
	opts    []ort.Option
	graph   *nn.Builder // built for defaultSteps; read-only
	weights *nn.Weights

	mu        sync.Mutex
	closed    bool
	trainable map[string]bool
	sessions  []*cached // most recently used last
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
		return fmt.Errorf("%s: %w", m.cfg.arch, sdk.ErrClosed)
	}
	return nil
}

// steps checks an input shape and returns its sequence length T and
// batch size N (-1 when free, with free set).
func (m *model) steps(shape []int64, free bool) (T, N int64, err error) {
	c := m.cfg
	want := c.inputShape(-1)
	bad := len(shape) != len(want)
	if !bad {
		for i, d := range shape {
			if want[i] >= 0 && d != want[i] {
				bad = true
			}
		}
	}
	tAxis, nAxis := 0, 1
	if c.rnn.BatchFirst {
		tAxis, nAxis = 1, 0
	}
	if !bad {
		T, N = shape[tAxis], shape[nAxis]
		bad = T < 1 || (N < 0 && !free)
	}
	if bad {
		layout := "[T, N"
		if c.rnn.BatchFirst {
			layout = "[N, T"
		}
		hint := layout + ", " + strconv.FormatInt(c.rnn.InputSize, 10) + "] float32 sequences"
		if c.numEmbeddings > 0 {
			hint = layout + "] int64 token ids"
		}
		return 0, 0, &sdk.ShapeError{What: "input", Want: want, Got: shape, Hint: "give " + hint + " (option batch_first picks the layout)"}
	}
	limit := int64(maxSteps)
	if c.rnn.ProjSize > 0 {
		limit = maxUnrolled
	}
	if T > limit {
		return 0, 0, fmt.Errorf("%s: %w: %d steps; the plugin takes at most %d here: cut the sequences into windows", c.arch, sdk.ErrBadInput, T, limit)
	}
	return T, N, nil
}

// Layers lists the feature layers with shapes for req.InputShape
// (default [N, 16, input_size] or [16, N, input_size]).
func (m *model) Layers(ctx context.Context, req *sdk.LayersRequest) ([]sdk.Layer, error) {
	m.mu.Lock()
	err := m.check()
	m.mu.Unlock()
	if err != nil {
		return nil, err
	}
	T := int64(defaultSteps)
	if req != nil && len(req.InputShape) > 0 {
		if T, _, err = m.steps(req.InputShape, true); err != nil {
			return nil, err
		}
	}
	b := m.cfg.build(T)
	if err := b.Err(); err != nil {
		return nil, fmt.Errorf("%s: %w", m.cfg.arch, err)
	}
	return b.Layers(), nil
}

// defaultLayer is what Extract returns when no layer is named.
func (m *model) defaultLayer() string {
	if m.cfg.numClasses > 0 {
		return "fc"
	}
	return "last"
}

// Extract runs one forward pass over req.Input with req.Lengths (default:
// every sequence T steps long).
func (m *model) Extract(ctx context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	c := m.cfg
	if req == nil || req.Input == nil {
		return nil, fmt.Errorf("%s: extract: %w: no input tensor", c.arch, sdk.ErrBadInput)
	}
	x := req.Input
	if err := x.Validate(); err != nil {
		return nil, fmt.Errorf("%s: extract: %w", c.arch, err)
	}
	wantType := sdk.Float32
	if c.numEmbeddings > 0 {
		wantType = sdk.Int64
	}
	if x.DType() != wantType {
		return nil, fmt.Errorf("%s: extract: %w", c.arch, &sdk.ShapeError{What: "input", DType: x.DType(), WantDType: wantType, Want: c.inputShape(-1), Got: x.Shape,
			Hint: map[bool]string{true: "give token ids for its embedding", false: "give float32 sequences; token ids need an embedding"}[wantType == sdk.Int64]})
	}
	T, N, err := m.steps(x.Shape, false)
	if err != nil {
		return nil, sdk.WithDTypes(err, x.DType(), wantType)
	}
	lengths, err := checkLengths(c.arch, req.Lengths, T, N)
	if err != nil {
		return nil, err
	}
	if c.numEmbeddings > 0 {
		for i, id := range x.Int64 {
			if id < 0 || id >= c.numEmbeddings {
				return nil, fmt.Errorf("%s: extract: %w: token id %d at flat index %d is outside the embedding's range [0, %d): map unknown tokens to an id the vocabulary has",
					c.arch, sdk.ErrBadInput, id, i, c.numEmbeddings)
			}
		}
	}
	layers := req.Layers
	if len(layers) == 0 {
		layers = []string{m.defaultLayer()}
	}
	for _, l := range layers {
		if _, err := m.graph.Layer(l); err != nil {
			return nil, err
		}
	}
	cs, err := m.session(T, layers)
	if err != nil {
		return nil, err
	}
	out, err := cs.s.Run(ctx, map[string]*sdk.Tensor{inputName: x, lengthsName: lengths}, nil)
	err = errors.Join(err, m.release(cs))
	if err != nil {
		return nil, fmt.Errorf("%s: extract: %w", c.arch, err)
	}
	return &sdk.ExtractResponse{Outputs: out}, nil
}

// checkLengths checks per-sequence lengths (nil: all T) and returns them
// as an int64 [N] tensor.
func checkLengths(arch string, lens []int64, T, N int64) (*sdk.Tensor, error) {
	if lens == nil {
		all := make([]int64, N)
		for i := range all {
			all[i] = T
		}
		return &sdk.Tensor{Shape: []int64{N}, Int64: all}, nil
	}
	if int64(len(lens)) != N {
		return nil, fmt.Errorf("%s: extract: %w: %d lengths for a batch of %d sequences: give one length per sequence", arch, sdk.ErrBadInput, len(lens), N)
	}
	for i, l := range lens {
		switch {
		case l < 1:
			return nil, fmt.Errorf("%s: extract: %w: sequence %d has length %d: every sequence needs at least one step (torch's pack_padded_sequence refuses empty ones too); drop it from the batch",
				arch, sdk.ErrBadInput, i, l)
		case l > T:
			return nil, fmt.Errorf("%s: extract: %w: sequence %d has length %d, longer than the input's %d steps: pad the input to the longest sequence or fix the lengths",
				arch, sdk.ErrBadInput, i, l, T)
		}
	}
	return &sdk.Tensor{Shape: []int64{N}, Int64: slices.Clone(lens)}, nil
}

// session returns a cached session for T steps and layers; the caller
// must release it.
func (m *model) session(T int64, layers []string) (*cached, error) {
	outs := slices.Clone(layers)
	slices.Sort(outs)
	outs = slices.Compact(outs)
	key := strconv.FormatInt(T, 10) + "\x00" + strings.Join(outs, "\x00")
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	for i, cs := range m.sessions {
		if cs.key == key {
			m.sessions = append(append(m.sessions[:i:i], m.sessions[i+1:]...), cs)
			cs.refs++
			return cs, nil
		}
	}
	var evictErr error
	for len(m.sessions) >= maxSessions {
		evictErr = errors.Join(evictErr, m.sessions[0].evict())
		m.sessions = m.sessions[1:]
	}
	g := m.graph
	if T != defaultSteps {
		g = m.cfg.build(T)
	}
	onnx, err := g.ONNX(m.weights, outs)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s: %w", m.cfg.arch, err), evictErr)
	}
	s, err := ort.NewSession(onnx, m.opts...)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("%s: create session: %w", m.cfg.arch, err), evictErr)
	}
	cs := &cached{key: key, s: s, refs: 1}
	m.sessions = append(m.sessions, cs)
	return cs, evictErr
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

// Params lists the parameters by state_dict name (module layout: a bare
// nn.LSTM's weight_ih_l0 is lstm.weight_ih_l0) with trainable flags.
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
// pattern, such as "lstm.*_l1*" for the second layer.
func (m *model) SetTrainable(ctx context.Context, req *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.check(); err != nil {
		return nil, err
	}
	resp, err := sdkbackbone.ApplyTrainable(m.graph.Params(), m.trainable, req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.cfg.arch, err)
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
