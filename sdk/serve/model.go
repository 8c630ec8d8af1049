package serve

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

// Model describes one model a Server answers for: how to load an instance
// of it, how to preprocess images for it, which layers it exposes, and how
// its requests are batched.
type Model struct {
	// Name is the model's name in URLs and requests.
	Name string
	// Version is reported in metadata; "1" when empty. Requests may name
	// it or leave it out.
	Version string
	// Open loads one instance. The Server calls it Instances times, each
	// call with its share of Threads.
	Open OpenFunc
	// Instances is how many instances (plugin processes) answer requests
	// in parallel; 1 when zero.
	Instances int
	// Threads is the cores split between the instances; 0 lets each
	// engine choose.
	Threads int
	// Transform preprocesses BYTES inputs (encoded JPEG, PNG, ...) exactly
	// as gozoo extract does. Nil refuses image inputs.
	Transform *imageproc.Transform
	// InputShape is one row's shape without the batch dimension, -1 for
	// a free dimension. Empty: the Transform's shape, else the shape the
	// instance reports.
	InputShape []int64
	// Outputs are the layers requests may ask for, by PyTorch module
	// path. Empty: every layer whose first dimension is the batch.
	Outputs []string
	// DefaultOutputs answer a request that names no output. Empty: the
	// last of Outputs.
	DefaultOutputs []string
	// Lengths makes the model take an INT64 "lengths" input ([N]), the
	// valid steps of each sequence, beside its input.
	Lengths bool
	// MaxBatch is the most rows in one forward pass; requests with more
	// rows are refused. 1 turns dynamic batching off. Default 8.
	MaxBatch int
	// MaxDelay is how long the first request of a batch waits for others
	// to join it. 0 batches only the requests already waiting when an
	// instance becomes free.
	MaxDelay time.Duration
	// MaxQueue bounds the requests waiting for an instance; beyond it
	// requests are refused with 503 (gRPC UNAVAILABLE). Default 64.
	MaxQueue int
}

// OpenFunc loads one instance of a model with the given intra-op threads
// (0: the engine's default). The Server closes what it returns.
type OpenFunc func(ctx context.Context, threads int) (*Instance, error)

// Instance is one loaded copy of a model.
type Instance struct {
	// Model answers Extract calls; it must be safe for concurrent use.
	Model sdk.Model
	// Input is the model's input: as the loaded model describes it
	// (sdk.InputDescriber), else the architecture's default. It gives the
	// metadata's shape when Model.InputShape and Model.Transform leave it
	// open. Its BatchAxis must be 0: requests are batched along the first
	// dimension.
	Input sdk.InputSpec
	// PID, when not nil, reports the process serving Model. The Server
	// polls it to report readiness truthfully and to count restarts.
	PID func() (int, error)
	// Close releases the instance and its process.
	Close func() error
}

// Input and output names every model uses.
const (
	// InputName is the FP32 (or INT64) tensor input, [N, ...row shape].
	InputName = "input"
	// ImageInputName is the BYTES input of encoded images, [N] or [N, 1].
	ImageInputName = "image"
	// LengthsInputName is the INT64 [N] input of sequence lengths.
	LengthsInputName = "lengths"
)

// output is one exposed layer.
type output struct {
	name  string
	shape []int64 // -1 for the batch
}

// model is a Model being served.
type model struct {
	cfg      Model
	s        *Server
	rowShape []int64
	dtype    sdk.DType
	outputs  []output
	defaults []string
	queue    chan *job
	free     chan *instance
	insts    []*instance
	carry    *job // a job taken from the queue that did not fit the last batch
	running  sync.WaitGroup
	watchers sync.WaitGroup
	pending  atomic.Int64 // jobs in the queue
	open     atomic.Int64 // jobs accepted and not yet answered
	met      *modelMetrics
	stop     chan struct{}
	done     chan struct{}
	started  bool // dispatch runs
}

// instance is one Instance with its health.
type instance struct {
	m       *model
	in      *Instance
	healthy atomic.Bool
	mu      sync.Mutex
	pid     int
}

// job is one request waiting for its batch.
type job struct {
	ctx     context.Context
	x       *sdk.Tensor
	lengths []int64
	layers  []string
	enq     time.Time
	done    chan result
}

type result struct {
	outs map[string]*sdk.Tensor
	err  error
}

func (m *model) output(name string) (output, bool) {
	for _, o := range m.outputs {
		if o.name == name {
			return o, true
		}
	}
	return output{}, false
}

func (m *model) outputNames() []string {
	names := make([]string, len(m.outputs))
	for i, o := range m.outputs {
		names[i] = o.name
	}
	return names
}

// ready reports whether an instance can answer.
func (m *model) ready() bool {
	for _, in := range m.insts {
		if in.healthy.Load() {
			return true
		}
	}
	return false
}

// submit queues j and waits for its result. A full queue refuses at once.
func (m *model) submit(j *job) (map[string]*sdk.Tensor, error) {
	// Counted before the draining check, so that Shutdown, which sets
	// draining and then waits for open to reach 0, sees every job that
	// got past the check.
	m.open.Add(1)
	if m.s.draining.Load() {
		m.open.Add(-1)
		return nil, &Error{Status: http.StatusServiceUnavailable, Msg: "server is shutting down: send the request to another replica", RetryAfter: 1}
	}
	j.enq = time.Now()
	j.done = make(chan result, 1)
	m.pending.Add(1)
	m.met.pending.Inc()
	select {
	case m.queue <- j:
	default:
		m.open.Add(-1)
		m.pending.Add(-1)
		m.met.pending.Dec()
		m.met.rejected.Inc()
		return nil, &Error{Status: http.StatusServiceUnavailable, Msg: fmt.Sprintf("model %s: queue full (%d waiting): retry later", m.cfg.Name, cap(m.queue)), RetryAfter: 1}
	}
	select {
	case r := <-j.done:
		return r.outs, r.err
	case <-j.ctx.Done():
		// The dispatcher drops the job when it reaches it.
		return nil, ctxError(j.ctx.Err())
	}
}

func ctxError(err error) error {
	if errors.Is(err, context.DeadlineExceeded) {
		return &Error{Status: http.StatusGatewayTimeout, Msg: "request deadline passed before its result was ready"}
	}
	return &Error{Status: statusClientClosed, Msg: "request cancelled by the client"}
}

// statusClientClosed is nginx's code for a client that went away; it is
// never written to a live client.
const statusClientClosed = 499

// answer delivers j's result; every accepted job is answered once.
func (m *model) answer(j *job, r result) {
	j.done <- r
	m.open.Add(-1)
}

// take removes j from the pending count.
func (m *model) take(j *job) {
	m.pending.Add(-1)
	m.met.pending.Dec()
	m.met.queue.Observe(time.Since(j.enq).Seconds())
}

// alive reports whether j's client still waits; a dropped job is answered
// and counted.
func (m *model) alive(j *job) bool {
	if err := j.ctx.Err(); err != nil {
		m.met.cancelled.Inc()
		m.answer(j, result{err: ctxError(err)})
		return false
	}
	return true
}

// fits reports whether j can join a batch started by first.
func fits(first, j *job) bool {
	if (first.lengths == nil) != (j.lengths == nil) || first.x.DType() != j.x.DType() {
		return false
	}
	return sdk.EqualShape(first.x.Shape[1:], j.x.Shape[1:])
}

// dispatch forms batches and hands them to free instances until stop.
func (m *model) dispatch() {
	defer close(m.done)
	maxBatch := int64(m.cfg.MaxBatch)
	for {
		first := m.carry
		m.carry = nil
		if first == nil {
			select {
			case first = <-m.queue:
				m.take(first)
			case <-m.stop:
				return
			}
		}
		if !m.alive(first) {
			continue
		}
		var inst *instance
		select {
		case inst = <-m.free:
		case <-m.stop:
			m.answer(first, result{err: &Error{Status: http.StatusServiceUnavailable, Msg: "server closed", RetryAfter: 1}})
			return
		}
		batch := []*job{first}
		rows := first.x.Shape[0]
		var timer *time.Timer
		wait := time.Until(first.enq.Add(m.cfg.MaxDelay))
	collect:
		for rows < maxBatch {
			var j *job
			select {
			case j = <-m.queue:
			default:
				if wait <= 0 {
					break collect
				}
				if timer == nil {
					timer = time.NewTimer(wait)
				}
				select {
				case j = <-m.queue:
				case <-timer.C:
					break collect
				case <-m.stop:
					break collect
				}
			}
			m.take(j)
			if !m.alive(j) {
				continue
			}
			if !fits(first, j) || rows+j.x.Shape[0] > maxBatch {
				m.carry = j
				break
			}
			batch = append(batch, j)
			rows += j.x.Shape[0]
		}
		if timer != nil {
			timer.Stop()
		}
		m.running.Add(1)
		go func() {
			defer m.running.Done()
			m.run(inst, batch)
			m.free <- inst
		}()
	}
}

// run computes one batch on inst and answers its jobs.
func (m *model) run(inst *instance, batch []*job) {
	live := batch[:0:0]
	for _, j := range batch {
		if m.alive(j) {
			live = append(live, j)
		}
	}
	if len(live) == 0 {
		return
	}
	outs, err := m.extract(inst, live)
	if err != nil && len(live) > 1 && errors.Is(err, sdk.ErrBadInput) {
		// One request the checks let through spoils the batch: run each
		// alone so that only it fails.
		for _, j := range live {
			m.run(inst, []*job{j})
		}
		return
	}
	var off int64
	for _, j := range live {
		n := j.x.Shape[0]
		if err != nil {
			m.met.failure.Inc()
			m.answer(j, result{err: extractError(m.cfg.Name, err)})
			continue
		}
		res := make(map[string]*sdk.Tensor, len(j.layers))
		for _, l := range j.layers {
			t := outs[l]
			if t == nil || len(t.Shape) == 0 || t.Shape[0] < off+n {
				err = fmt.Errorf("plugin returned no batch-leading output for layer %q", l)
				break
			}
			if res[l], err = t.Rows(off, off+n); err != nil {
				break
			}
		}
		off += n
		if err != nil {
			m.met.failure.Inc()
			m.answer(j, result{err: extractError(m.cfg.Name, err)})
			err = nil
			continue
		}
		m.answer(j, result{outs: res})
	}
}

// extract runs the union of the jobs' layers over their concatenated rows,
// repeating the pass once when the plugin died and could not be recovered
// inside the call.
func (m *model) extract(inst *instance, jobs []*job) (map[string]*sdk.Tensor, error) {
	ctx, cancel := batchContext(jobs, m.s.timeout)
	defer cancel()
	req := &sdk.ExtractRequest{}
	seen := map[string]bool{}
	for _, j := range jobs {
		for _, l := range j.layers {
			if !seen[l] {
				seen[l] = true
				req.Layers = append(req.Layers, l)
			}
		}
	}
	if len(jobs) == 1 {
		req.Input, req.Lengths = jobs[0].x, jobs[0].lengths
	} else {
		xs := make([]*sdk.Tensor, len(jobs))
		for i, j := range jobs {
			xs[i] = j.x
			req.Lengths = append(req.Lengths, j.lengths...)
		}
		var err error
		if req.Input, err = sdk.Concat(xs); err != nil {
			return nil, err
		}
	}
	start := time.Now()
	var res *sdk.ExtractResponse
	var err error
	for attempt := 0; attempt < 2; attempt++ {
		res, err = inst.in.Model.Extract(ctx, req)
		inst.check()
		if err == nil || ctx.Err() != nil || !errors.Is(err, sdk.ErrPluginCrashed) {
			break
		}
		m.s.log.Warn("serve: plugin crashed during a batch; running it again", "model", m.cfg.Name, "err", err)
	}
	m.met.compute.Observe(time.Since(start).Seconds())
	if err != nil {
		return nil, err
	}
	m.met.executions.Inc()
	m.met.inferences.Add(float64(req.Input.Shape[0]))
	return res.Outputs, nil
}

// batchContext ends when every job's context has ended, or after timeout.
func batchContext(jobs []*job, timeout time.Duration) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	var left atomic.Int64
	left.Store(int64(len(jobs)))
	stops := make([]func() bool, len(jobs))
	for i, j := range jobs {
		stops[i] = context.AfterFunc(j.ctx, func() {
			if left.Add(-1) == 0 {
				cancel()
			}
		})
	}
	return ctx, func() {
		for _, s := range stops {
			s()
		}
		cancel()
	}
}

// extractError turns a model error into a response error.
func extractError(model string, err error) error {
	var e *Error
	switch {
	case errors.As(err, &e):
		return e
	case errors.Is(err, sdk.ErrBadInput), errors.Is(err, sdk.ErrUnknownLayer):
		return &Error{Status: http.StatusBadRequest, Msg: fmt.Sprintf("model %s: %v", model, err)}
	case errors.Is(err, context.DeadlineExceeded):
		return &Error{Status: http.StatusGatewayTimeout, Msg: fmt.Sprintf("model %s: %v", model, err)}
	case errors.Is(err, context.Canceled):
		return &Error{Status: statusClientClosed, Msg: "request cancelled by the client"}
	case errors.Is(err, sdk.ErrPluginCrashed), errors.Is(err, sdk.ErrClosed):
		return &Error{Status: http.StatusServiceUnavailable, Msg: fmt.Sprintf("model %s: %v", model, err), RetryAfter: 1}
	}
	return &Error{Status: http.StatusInternalServerError, Msg: fmt.Sprintf("model %s: %v", model, err)}
}

// check reads the instance's process id: a new one means the plugin was
// restarted, none means it is down.
func (in *instance) check() {
	if in.in.PID == nil {
		in.healthy.Store(true)
		return
	}
	pid, err := in.in.PID()
	if err != nil {
		in.healthy.Store(false)
		return
	}
	in.mu.Lock()
	if in.pid != 0 && pid != in.pid {
		in.m.met.restarts.Inc()
		in.m.s.log.Warn("serve: plugin restarted", "model", in.m.cfg.Name, "old_pid", in.pid, "pid", pid)
	}
	in.pid = pid
	in.mu.Unlock()
	in.healthy.Store(true)
	in.m.met.setReady(in.m)
}

// watch polls the instance's health until stop; a plugin found down is
// brought back by a cheap call that the host repeats on a fresh process.
func (in *instance) watch(every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-in.m.stop:
			return
		case <-t.C:
		}
		was := in.healthy.Load()
		in.check()
		if !in.healthy.Load() {
			if was {
				in.m.met.setReady(in.m)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_, err := in.in.Model.Layers(ctx, &sdk.LayersRequest{})
			cancel()
			if err != nil {
				in.m.s.log.Warn("serve: plugin down and not restarted yet", "model", in.m.cfg.Name, "err", err)
			}
			in.check()
		}
	}
}

// describe builds the metadata of a model from its first instance.
func (m *model) describe(ctx context.Context, first *Instance) error {
	cfg := &m.cfg
	if a := first.Input.BatchAxis; a != 0 {
		return fmt.Errorf("serve: model %s: its input has the batch as dimension %d, but requests are batched along the first: load it with an option that puts the batch first",
			cfg.Name, a)
	}
	m.dtype = sdk.Float32
	switch {
	case len(cfg.InputShape) > 0:
		m.rowShape = slices.Clone(cfg.InputShape)
	case cfg.Transform != nil:
		m.rowShape = cfg.Transform.Shape()
	case len(first.Input.Shape) > 1:
		m.rowShape = slices.Clone(first.Input.Shape[1:])
	default:
		return fmt.Errorf("serve: model %s: no input shape: set Model.InputShape (one row, without the batch)", cfg.Name)
	}
	if first.Input.DType == sdk.Int64 {
		m.dtype = sdk.Int64
	}
	probe := []int64{1}
	for _, d := range m.rowShape {
		if d == 0 || d < -1 {
			return fmt.Errorf("serve: model %s: input shape %s: dimensions must be positive or -1", cfg.Name, sdk.FormatShape(m.rowShape))
		}
		if d < 0 {
			if len(first.Input.Shape) == len(m.rowShape)+1 && first.Input.Shape[len(probe)] > 0 {
				d = first.Input.Shape[len(probe)]
			} else {
				d = 8
			}
		}
		probe = append(probe, d)
	}
	layers, err := first.Model.Layers(ctx, &sdk.LayersRequest{InputShape: probe})
	if err != nil {
		return fmt.Errorf("serve: model %s: list layers: %w", cfg.Name, err)
	}
	// With free input dimensions, a second probe of other sizes tells
	// which output dimensions follow them.
	free := map[string][]bool{}
	if slices.Contains(m.rowShape, -1) {
		probe2 := slices.Clone(probe)
		for i, d := range m.rowShape {
			if d < 0 {
				probe2[i+1] = 2*probe[i+1] + 1
			}
		}
		layers2, err := first.Model.Layers(ctx, &sdk.LayersRequest{InputShape: probe2})
		if err != nil {
			return fmt.Errorf("serve: model %s: list layers: %w", cfg.Name, err)
		}
		for _, l := range layers2 {
			for _, l1 := range layers {
				if l1.Name == l.Name {
					f := make([]bool, len(l1.Shape))
					for i := range f {
						f[i] = len(l.Shape) != len(l1.Shape) || l.Shape[i] != l1.Shape[i]
					}
					free[l.Name] = f
				}
			}
		}
	}
	byName := map[string]sdk.Layer{}
	var names []string
	for _, l := range layers {
		byName[l.Name] = l
		names = append(names, l.Name)
	}
	batchLeading := func(l sdk.Layer) bool { return len(l.Shape) > 0 && l.Shape[0] < 0 }
	want := cfg.Outputs
	if len(want) == 0 {
		for _, l := range layers {
			if batchLeading(l) {
				want = append(want, l.Name)
			}
		}
	}
	for _, name := range want {
		l, ok := byName[name]
		if !ok {
			msg := fmt.Sprintf("serve: model %s: unknown output layer %q", cfg.Name, name)
			if s := sdk.Suggest(name, names, 3); len(s) > 0 {
				msg += "; did you mean " + strings.Join(s, ", ") + "?"
			}
			return errors.New(msg)
		}
		if !batchLeading(l) {
			return fmt.Errorf("serve: model %s: layer %s has shape %s, whose first dimension is not the batch: it cannot be split between batched requests; leave it out of the outputs",
				cfg.Name, name, sdk.FormatShape(l.Shape))
		}
		shape := slices.Clone(l.Shape)
		shape[0] = -1
		// Output dimensions that follow free input dimensions are free.
		for i, f := range free[name] {
			if f && i < len(shape) {
				shape[i] = -1
			}
		}
		m.outputs = append(m.outputs, output{name: name, shape: shape})
	}
	if len(m.outputs) == 0 {
		return fmt.Errorf("serve: model %s: no layer to expose: set Model.Outputs", cfg.Name)
	}
	m.defaults = cfg.DefaultOutputs
	if len(m.defaults) == 0 {
		m.defaults = []string{m.outputs[len(m.outputs)-1].name}
	}
	for _, d := range m.defaults {
		if _, ok := m.output(d); !ok {
			return fmt.Errorf("serve: model %s: default output %q is not among the outputs %s", cfg.Name, d, strings.Join(m.outputNames(), ", "))
		}
	}
	return nil
}
