package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/imageproc"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
)

// Server answers Open Inference Protocol requests for a set of models. It
// is safe for concurrent use. The caller must Close it (or Shutdown),
// which closes every instance and its plugin process.
type Server struct {
	models   map[string]*model
	order    []string
	log      *slog.Logger
	maxBody  int64
	timeout  time.Duration
	health   time.Duration
	reg      *prometheus.Registry
	met      *metrics
	draining atomic.Bool
	closeMu  sync.Mutex
	closed   bool
}

// Option configures New.
type Option func(*options) error

type options struct {
	log     *slog.Logger
	maxBody int64
	timeout time.Duration
	health  time.Duration
	reg     *prometheus.Registry
}

// WithLogger sends the server's warnings (plugin restarts, crashes) to l;
// by default they are discarded.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) error {
		if l == nil {
			return errors.New("serve: WithLogger: nil logger")
		}
		o.log = l
		return nil
	}
}

// WithMaxBodyBytes bounds an HTTP request body and a gRPC message (default
// 64 MiB). Larger requests get 413 (gRPC RESOURCE_EXHAUSTED).
func WithMaxBodyBytes(n int64) Option {
	return func(o *options) error {
		if n < 1024 {
			return fmt.Errorf("serve: WithMaxBodyBytes(%d): want at least 1024", n)
		}
		o.maxBody = n
		return nil
	}
}

// WithTimeout bounds one request from arrival to answer, queueing
// included (default 60s); a client's own shorter deadline wins.
func WithTimeout(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("serve: WithTimeout(%v): want a positive duration", d)
		}
		o.timeout = d
		return nil
	}
}

// WithHealthInterval sets how often each instance's process is checked
// (default 250ms).
func WithHealthInterval(d time.Duration) Option {
	return func(o *options) error {
		if d <= 0 {
			return fmt.Errorf("serve: WithHealthInterval(%v): want a positive duration", d)
		}
		o.health = d
		return nil
	}
}

// WithRegistry registers the server's metrics in r instead of a registry
// of its own, so that a service exposes them beside its own metrics.
func WithRegistry(r *prometheus.Registry) Option {
	return func(o *options) error {
		if r == nil {
			return errors.New("serve: WithRegistry: nil registry")
		}
		o.reg = r
		return nil
	}
}

// New loads every instance of every model and starts their batchers. On
// error, whatever was loaded is closed again.
func New(ctx context.Context, models []Model, opts ...Option) (*Server, error) {
	o := options{maxBody: 64 << 20, timeout: time.Minute, health: 250 * time.Millisecond}
	for _, opt := range opts {
		if err := opt(&o); err != nil {
			return nil, err
		}
	}
	if o.log == nil {
		o.log = slog.New(slog.DiscardHandler)
	}
	if o.reg == nil {
		o.reg = prometheus.NewRegistry()
	}
	if len(models) == 0 {
		return nil, errors.New("serve: no models: give at least one Model")
	}
	met, err := newMetrics(o.reg)
	if err != nil {
		return nil, err
	}
	s := &Server{models: map[string]*model{}, log: o.log, maxBody: o.maxBody, timeout: o.timeout,
		health: o.health, reg: o.reg, met: met}
	for _, cfg := range models {
		if err := s.add(ctx, cfg); err != nil {
			return nil, errors.Join(err, s.Close())
		}
	}
	for _, name := range s.order {
		m := s.models[name]
		m.started = true
		go m.dispatch()
		for _, in := range m.insts {
			m.watchers.Add(1)
			go func() {
				defer m.watchers.Done()
				in.watch(s.health)
			}()
		}
	}
	return s, nil
}

func (s *Server) add(ctx context.Context, cfg Model) error {
	if cfg.Name == "" || strings.ContainsAny(cfg.Name, "/ \t\n?#") {
		return fmt.Errorf("serve: model name %q: want a non-empty name without '/', spaces, '?' or '#'", cfg.Name)
	}
	if s.models[cfg.Name] != nil {
		return fmt.Errorf("serve: model %s given twice", cfg.Name)
	}
	if cfg.Open == nil {
		return fmt.Errorf("serve: model %s: Open is nil", cfg.Name)
	}
	if cfg.Version == "" {
		cfg.Version = "1"
	}
	if cfg.Instances <= 0 {
		cfg.Instances = 1
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 8
	}
	if cfg.MaxDelay < 0 {
		return fmt.Errorf("serve: model %s: MaxDelay %v: want 0 or more", cfg.Name, cfg.MaxDelay)
	}
	if cfg.MaxQueue <= 0 {
		cfg.MaxQueue = 64
	}
	if cfg.Transform != nil {
		if err := cfg.Transform.Validate(); err != nil {
			return fmt.Errorf("serve: model %s: %w", cfg.Name, err)
		}
	}
	threads := 0
	if cfg.Threads > 0 {
		threads = max(1, cfg.Threads/cfg.Instances)
	}
	m := &model{cfg: cfg, s: s, queue: make(chan *job, cfg.MaxQueue), free: make(chan *instance, cfg.Instances),
		met: s.met.forModel(cfg.Name), stop: make(chan struct{}), done: make(chan struct{})}
	s.models[cfg.Name] = m
	s.order = append(s.order, cfg.Name)
	for i := 0; i < cfg.Instances; i++ {
		in, err := cfg.Open(ctx, threads)
		if err != nil {
			return fmt.Errorf("serve: model %s: open instance %d of %d: %w", cfg.Name, i+1, cfg.Instances, err)
		}
		if in == nil || in.Model == nil {
			return fmt.Errorf("serve: model %s: Open returned no model", cfg.Name)
		}
		inst := &instance{m: m, in: in}
		m.insts = append(m.insts, inst)
		m.free <- inst
		inst.check()
	}
	if err := m.describe(ctx, m.insts[0].in); err != nil {
		return err
	}
	m.met.setReady(m)
	return nil
}

// Ready reports whether the server takes requests: it is not shutting
// down and every model has a live instance.
func (s *Server) Ready() bool {
	if s.draining.Load() {
		return false
	}
	for _, m := range s.models {
		if !m.ready() {
			return false
		}
	}
	return true
}

// ModelReady reports whether model can answer now.
func (s *Server) ModelReady(name string) bool {
	m := s.models[name]
	return m != nil && !s.draining.Load() && m.ready()
}

// Models lists the served models' names in the order given to New.
func (s *Server) Models() []string { return slices.Clone(s.order) }

// Drain makes the server refuse new requests (503, gRPC UNAVAILABLE) and
// report not ready, while requests already accepted run to completion.
func (s *Server) Drain() {
	s.draining.Store(true)
	for _, m := range s.models {
		m.met.setReady(m)
	}
}

// Shutdown drains the server, waits until every accepted request has been
// answered or ctx ends, and closes the server. It returns ctx's error when
// requests were still running.
func (s *Server) Shutdown(ctx context.Context) error {
	s.Drain()
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	var werr error
wait:
	for {
		idle := true
		for _, m := range s.models {
			if m.open.Load() > 0 {
				idle = false
			}
		}
		if idle {
			break
		}
		select {
		case <-ctx.Done():
			werr = fmt.Errorf("serve: shutdown: requests still running: %w", ctx.Err())
			break wait
		case <-t.C:
		}
	}
	return errors.Join(werr, s.Close())
}

// Close stops the batchers, fails requests still queued, and closes every
// instance. It is idempotent.
func (s *Server) Close() error {
	s.closeMu.Lock()
	defer s.closeMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.draining.Store(true)
	var errs []error
	for _, name := range s.order {
		m := s.models[name]
		close(m.stop)
	}
	for _, name := range s.order {
		m := s.models[name]
		if m.started {
			<-m.done
		}
		m.running.Wait()
		m.watchers.Wait()
		for {
			select {
			case j := <-m.queue:
				m.take(j)
				m.answer(j, result{err: &Error{Status: http.StatusServiceUnavailable, Msg: "server closed", RetryAfter: 1}})
				continue
			default:
			}
			break
		}
		if m.carry != nil {
			m.answer(m.carry, result{err: &Error{Status: http.StatusServiceUnavailable, Msg: "server closed", RetryAfter: 1}})
			m.carry = nil
		}
		for _, in := range m.insts {
			if in.in.Close != nil {
				if err := in.in.Close(); err != nil {
					errs = append(errs, fmt.Errorf("serve: close model %s: %w", name, err))
				}
			}
		}
	}
	return errors.Join(errs...)
}

// RegisterGRPC registers the inference.GRPCInferenceService on g. Give g
// GRPCServerOptions so that its message limit matches the server's.
func (s *Server) RegisterGRPC(g grpc.ServiceRegistrar) {
	registerGRPC(g, s)
}

// GRPCServerOptions returns the grpc.Server options the inference service
// expects: a receive limit equal to WithMaxBodyBytes.
func (s *Server) GRPCServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(int(s.maxBody)), grpc.MaxSendMsgSize(int(s.maxBody) * 4)}
}

// Error is a request the server refused or could not answer. Status is
// the HTTP status; gRPC uses the matching code.
type Error struct {
	Status     int
	Msg        string
	RetryAfter int // seconds, for 503
}

func (e *Error) Error() string { return e.Msg }

func badRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf(format, args...)}
}

// request is a decoded inference request, the same for every transport.
type request struct {
	id      string
	inputs  []*tensor
	outputs []string // empty: the model's defaults
	binary  map[string]bool
	allBin  bool
}

// tensor is a decoded input.
type tensor struct {
	name  string
	dtype string
	shape []int64
	f32   []float32
	i64   []int64
	bytes [][]byte
}

// response is an inference answer, the same for every transport.
type response struct {
	model, version, id string
	outputs            []namedTensor
}

type namedTensor struct {
	name string
	t    *sdk.Tensor
}

// lookup finds a model by name and optional version.
func (s *Server) lookup(name, version string) (*model, error) {
	m := s.models[name]
	if m == nil {
		msg := fmt.Sprintf("unknown model %q", name)
		if sug := sdk.Suggest(name, s.order, 3); len(sug) > 0 {
			msg += "; did you mean " + strings.Join(sug, ", ") + "?"
		} else {
			msg += "; served: " + strings.Join(s.order, ", ")
		}
		return nil, &Error{Status: http.StatusNotFound, Msg: msg}
	}
	if version != "" && version != m.cfg.Version {
		return nil, &Error{Status: http.StatusNotFound, Msg: fmt.Sprintf("model %s has no version %q; it serves version %s", name, version, m.cfg.Version)}
	}
	return m, nil
}

// infer answers one request.
func (s *Server) infer(ctx context.Context, name, version string, r *request) (resp *response, err error) {
	start := time.Now()
	m, err := s.lookup(name, version)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err == nil {
			m.met.success.Inc()
			m.met.e2e.Observe(time.Since(start).Seconds())
		} else {
			var e *Error
			if errors.As(err, &e) && e.Status == statusClientClosed {
				m.met.cancelled.Inc()
			}
			m.met.failure.Inc()
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	j, err := m.prepare(r)
	if err != nil {
		return nil, err
	}
	j.ctx = ctx
	outs, err := m.submit(j)
	if err != nil {
		return nil, err
	}
	resp = &response{model: name, version: m.cfg.Version, id: r.id}
	for _, l := range j.layers {
		resp.outputs = append(resp.outputs, namedTensor{name: l, t: outs[l]})
	}
	return resp, nil
}

// prepare checks r against the model and builds its job: the input
// tensor (images decoded and preprocessed), lengths and layers.
func (m *model) prepare(r *request) (*job, error) {
	j := &job{}
	seen := map[string]bool{}
	for _, o := range r.outputs {
		if seen[o] {
			return nil, badRequest("output %q requested twice", o)
		}
		seen[o] = true
		if _, ok := m.output(o); !ok {
			msg := fmt.Sprintf("model %s has no output %q", m.cfg.Name, o)
			if sug := sdk.Suggest(o, m.outputNames(), 3); len(sug) > 0 {
				msg += "; did you mean " + strings.Join(sug, ", ") + "?"
			}
			return nil, badRequest("%s (GET /v2/models/%s lists the outputs)", msg, m.cfg.Name)
		}
		j.layers = append(j.layers, o)
	}
	if len(j.layers) == 0 {
		j.layers = slices.Clone(m.defaults)
	}
	var in, lengths *tensor
	for _, t := range r.inputs {
		switch t.name {
		case InputName, ImageInputName:
			if in != nil {
				return nil, badRequest("inputs %q and %q both given: send one", in.name, t.name)
			}
			in = t
		case LengthsInputName:
			if !m.cfg.Lengths {
				return nil, badRequest("model %s takes no %q input", m.cfg.Name, LengthsInputName)
			}
			lengths = t
		default:
			return nil, badRequest("model %s has no input %q; it takes %s", m.cfg.Name, t.name, m.inputList())
		}
	}
	if in == nil {
		return nil, badRequest("no input: model %s takes %s", m.cfg.Name, m.inputList())
	}
	var err error
	if in.name == ImageInputName {
		j.x, err = m.images(in)
	} else {
		j.x, err = m.tensorInput(in)
	}
	if err != nil {
		return nil, err
	}
	n := j.x.Shape[0]
	if n > int64(m.cfg.MaxBatch) {
		return nil, badRequest("input has %d rows; model %s takes at most %d per request (its max batch size): split the request", n, m.cfg.Name, m.cfg.MaxBatch)
	}
	if m.cfg.Lengths {
		if lengths == nil {
			return nil, badRequest("model %s needs an INT64 %q input [%d] beside %q", m.cfg.Name, LengthsInputName, n, InputName)
		}
		if lengths.dtype != "INT64" || len(lengths.shape) != 1 || lengths.shape[0] != n {
			return nil, badRequest("input %q is %s %s; want INT64 [%d] (one length per row)", LengthsInputName, lengths.dtype, sdk.FormatShape(lengths.shape), n)
		}
		for i, l := range lengths.i64 {
			if l < 1 || (len(j.x.Shape) > 1 && l > j.x.Shape[1]) {
				return nil, badRequest("lengths[%d] = %d: want 1 to the %d steps of the input", i, l, j.x.Shape[1])
			}
		}
		j.lengths = lengths.i64
	}
	return j, nil
}

func (m *model) inputList() string {
	dt := "FP32"
	if m.dtype == sdk.Int64 {
		dt = "INT64"
	}
	s := fmt.Sprintf("%q (%s %s)", InputName, dt, sdk.FormatShape(append([]int64{-1}, m.rowShape...)))
	if m.cfg.Transform != nil {
		s += fmt.Sprintf(" or %q (BYTES [N], encoded images)", ImageInputName)
	}
	if m.cfg.Lengths {
		s += fmt.Sprintf(" and %q (INT64 [N])", LengthsInputName)
	}
	return s
}

// tensorInput checks a numeric input's dtype and shape against the model.
func (m *model) tensorInput(t *tensor) (*sdk.Tensor, error) {
	want := "FP32"
	if m.dtype == sdk.Int64 {
		want = "INT64"
	}
	if t.dtype != want {
		return nil, badRequest("input %q is %s; model %s wants %s", t.name, t.dtype, m.cfg.Name, want)
	}
	full := append([]int64{-1}, m.rowShape...)
	ok := len(t.shape) == len(full) && len(t.shape) > 0 && t.shape[0] > 0
	for i := 1; ok && i < len(full); i++ {
		ok = t.shape[i] > 0 && (full[i] < 0 || full[i] == t.shape[i])
	}
	if !ok {
		return nil, badRequest("input %q has shape %s; model %s wants %s with at least one row", t.name, sdk.FormatShape(t.shape), m.cfg.Name, sdk.FormatShape(full))
	}
	if want == "INT64" {
		return sdk.NewInt64Tensor(t.shape, t.i64)
	}
	return sdk.NewTensor(t.shape, t.f32)
}

// images decodes and preprocesses a BYTES input of encoded images.
func (m *model) images(t *tensor) (*sdk.Tensor, error) {
	tf := m.cfg.Transform
	if tf == nil {
		return nil, badRequest("model %s takes no images (it has no preprocessing): send %s", m.cfg.Name, m.inputList())
	}
	if t.dtype != "BYTES" {
		return nil, badRequest("input %q is %s; want BYTES (encoded images)", t.name, t.dtype)
	}
	if !(len(t.shape) == 1 || (len(t.shape) == 2 && t.shape[1] == 1)) || t.shape[0] < 1 {
		return nil, badRequest("input %q has shape %s; want [N] or [N, 1] with one encoded image per row", t.name, sdk.FormatShape(t.shape))
	}
	n := int(t.shape[0])
	if n > m.cfg.MaxBatch {
		return nil, badRequest("input has %d images; model %s takes at most %d per request (its max batch size): split the request", n, m.cfg.Name, m.cfg.MaxBatch)
	}
	per := tf.Len()
	x := make([]float32, n*per)
	for i, b := range t.bytes {
		img, err := imageproc.Decode(b)
		if err == nil {
			err = tf.Apply(img, x[i*per:(i+1)*per])
		}
		if err != nil {
			return nil, badRequest("input %q element %d is not an image the model can take: %v", t.name, i, err)
		}
	}
	return sdk.NewTensor(append([]int64{int64(n)}, tf.Shape()...), x)
}

// ModelInfo describes a served model as its metadata endpoint does.
type ModelInfo struct {
	Name, Version   string
	Inputs, Outputs []TensorInfo
	DefaultOutputs  []string
	MaxBatch        int
	Instances       int
}

// TensorInfo is one input or output: name, protocol datatype and shape,
// -1 for a free dimension.
type TensorInfo struct {
	Name, Datatype string
	Shape          []int64
}

// Info describes the model named name; false when none is served.
func (s *Server) Info(name string) (ModelInfo, bool) {
	m := s.models[name]
	if m == nil {
		return ModelInfo{}, false
	}
	md := m.metadata()
	info := ModelInfo{Name: md.Name, Version: m.cfg.Version, DefaultOutputs: slices.Clone(m.defaults), MaxBatch: m.cfg.MaxBatch, Instances: len(m.insts)}
	for _, t := range md.Inputs {
		info.Inputs = append(info.Inputs, TensorInfo(t))
	}
	for _, t := range md.Outputs {
		info.Outputs = append(info.Outputs, TensorInfo(t))
	}
	return info, true
}
