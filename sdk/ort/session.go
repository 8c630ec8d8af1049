package ort

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	onnxruntime "github.com/yalue/onnxruntime_go"

	"github.com/gozoo/gozoo/sdk"
)

// maxSubsetSessions bounds how many output subsets get their own ONNX
// Runtime session; see Session.Run.
const maxSubsetSessions = 8

// Option configures NewSession.
type Option func(*config) error

type config struct {
	threads    int
	threadsSet bool
	device     device
	deviceSet  bool
	arena      bool // see WithMemoryArena
	arenaSet   bool
	noSubsets  bool // see WithOutputSubsets
	subsetsSet bool
	optimized  string // see WithOptimizedModelPath
}

// MaxThreads is the most intra-op threads WithThreads accepts: four per
// logical CPU, and at least 8. More threads than cores only contend for
// them, and each one ONNX Runtime starts reserves a stack, so a count
// like 100000 exhausts the process instead of speeding it up.
func MaxThreads() int { return max(8, 4*runtime.NumCPU()) }

// WithThreads sets the number of intra-op threads ONNX Runtime uses for one
// Run (inter-op parallelism is always 1). n must be between 1 and
// MaxThreads(); without this option ONNX Runtime uses one thread per
// physical core.
func WithThreads(n int) Option {
	return func(c *config) error {
		if n < 1 {
			return fmt.Errorf("%w: threads must be at least 1, got %d", sdk.ErrBadOption, n)
		}
		if m := MaxThreads(); n > m {
			return fmt.Errorf("%w: %d threads is over the limit of %d (4 per CPU, %d CPUs): give at most %d", sdk.ErrBadOption, n, m, runtime.NumCPU(), m)
		}
		if c.threadsSet && c.threads != n {
			return fmt.Errorf("%w: threads set twice (%d and %d)", sdk.ErrBadOption, c.threads, n)
		}
		c.threads, c.threadsSet = n, true
		return nil
	}
}

// WithDevice selects the execution provider: "cpu" (the default, also
// spelled ""), "cuda",
// "cuda:N" for GPU N, or "tensorrt" (TensorRT on GPU 0, with CUDA for the
// nodes TensorRT does not take). A GPU device whose libraries are missing
// makes NewSession fail with an error matching sdk.ErrDeviceUnavailable;
// it never falls back to the CPU.
func WithDevice(dev string) Option {
	return func(c *config) error {
		d, err := parseDevice(dev)
		if err != nil {
			return err
		}
		if c.deviceSet && c.device != d {
			return fmt.Errorf("%w: device set twice (%s and %s)", sdk.ErrBadOption, c.device, d)
		}
		c.device, c.deviceSet = d, true
		return nil
	}
}

// ioInfo describes one model input or output.
type ioInfo struct {
	name  string
	dtype onnxruntime.TensorElementDataType
	dims  []int64 // -1 for symbolic dimensions; nil when unknown
}

// Session is an ONNX Runtime inference session over one model.
//
// Run is safe for concurrent use by multiple goroutines; ONNX Runtime runs
// the calls in parallel on the session's shared intra-op thread pool. The
// caller must Close the Session; Close waits for (after terminating) the
// Runs in flight.
type Session struct {
	model   []byte
	dev     device
	opts    *onnxruntime.SessionOptions
	inputs  []ioInfo
	outputs []ioInfo
	full    *onnxruntime.DynamicAdvancedSession // all outputs, model order

	mu     sync.RWMutex // Run holds it shared, Close exclusively
	closed bool

	subMu   sync.Mutex
	subsets map[string]*onnxruntime.DynamicAdvancedSession

	closing  atomic.Bool
	activeMu sync.Mutex
	active   map[*onnxruntime.RunOptions]struct{}
}

// NewSession loads an ONNX model (the bytes of a .onnx file) into a new
// session. It loads the ONNX Runtime library on first use (see
// LibraryPath). The caller must Close the session.
func NewSession(model []byte, opts ...Option) (*Session, error) {
	var c config
	for _, o := range opts {
		if err := o(&c); err != nil {
			return nil, err
		}
	}
	if c.device.provider == "" {
		c.device.provider = ProviderCPU
	}
	if err := initialize(); err != nil {
		return nil, err
	}
	if err := checkProvider(c.device); err != nil {
		return nil, err
	}
	ins, outs, err := onnxruntime.GetInputOutputInfoWithONNXData(model)
	if err != nil {
		return nil, fmt.Errorf("%w: ort: read model (%d bytes): %v: pass the bytes of a valid .onnx file", sdk.ErrBadInput, len(model), err)
	}
	s := &Session{
		model:   model, // cloned below unless subsets are off
		dev:     c.device,
		subsets: map[string]*onnxruntime.DynamicAdvancedSession{},
		active:  map[*onnxruntime.RunOptions]struct{}{},
	}
	for _, in := range ins {
		s.inputs = append(s.inputs, toInfo(in))
	}
	for _, out := range outs {
		s.outputs = append(s.outputs, toInfo(out))
	}
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	if s.opts, err = sessionOptions(c); err != nil {
		return nil, err
	}
	s.full, err = s.newORTSession(names(s.outputs))
	if err != nil {
		return nil, err
	}
	if c.noSubsets {
		s.model = nil // ONNX Runtime holds what it needs
	} else {
		s.model = slices.Clone(model)
	}
	ok = true
	return s, nil
}

func toInfo(i onnxruntime.InputOutputInfo) ioInfo {
	info := ioInfo{name: i.Name, dtype: i.DataType}
	if i.OrtValueType == onnxruntime.ONNXTypeTensor {
		info.dims = slices.Clone([]int64(i.Dimensions))
		if info.dims == nil {
			info.dims = []int64{}
		}
	}
	return info
}

func names(infos []ioInfo) []string {
	out := make([]string, len(infos))
	for i, in := range infos {
		out[i] = in.name
	}
	return out
}

func sessionOptions(c config) (*onnxruntime.SessionOptions, error) {
	o, err := onnxruntime.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("ort: create session options: %w", err)
	}
	fail := func(err error) (*onnxruntime.SessionOptions, error) {
		o.Destroy()
		return nil, err
	}
	if c.threadsSet {
		if err := o.SetIntraOpNumThreads(c.threads); err != nil {
			return fail(fmt.Errorf("ort: set %d threads: %w", c.threads, err))
		}
	}
	if err := o.SetInterOpNumThreads(1); err != nil {
		return fail(fmt.Errorf("ort: set inter-op threads: %w", err))
	}
	if c.arenaSet {
		if err := o.SetCpuMemArena(c.arena); err != nil {
			return fail(fmt.Errorf("ort: set memory arena: %w", err))
		}
	}
	if c.optimized != "" {
		if err := o.SetOptimizedModelFilePath(c.optimized); err != nil {
			return fail(fmt.Errorf("ort: set optimized model path: %w", err))
		}
	}
	switch c.device.provider {
	case ProviderTensorRT:
		if err := appendTensorRT(o, c.device); err != nil {
			return fail(err)
		}
		if err := appendCUDA(o, c.device); err != nil {
			return fail(err)
		}
	case ProviderCUDA:
		if err := appendCUDA(o, c.device); err != nil {
			return fail(err)
		}
	}
	return o, nil
}

func appendCUDA(o *onnxruntime.SessionOptions, dev device) error {
	p, err := onnxruntime.NewCUDAProviderOptions()
	if err != nil {
		return deviceErr(dev, "create CUDA provider options", err)
	}
	defer p.Destroy()
	if err := p.Update(map[string]string{"device_id": strconv.Itoa(dev.index)}); err != nil {
		return deviceErr(dev, "set CUDA device", err)
	}
	if err := o.AppendExecutionProviderCUDA(p); err != nil {
		return deviceErr(dev, "append CUDA execution provider", err)
	}
	return nil
}

func appendTensorRT(o *onnxruntime.SessionOptions, dev device) error {
	p, err := onnxruntime.NewTensorRTProviderOptions()
	if err != nil {
		return deviceErr(dev, "create TensorRT provider options", err)
	}
	defer p.Destroy()
	if err := p.Update(map[string]string{"device_id": strconv.Itoa(dev.index)}); err != nil {
		return deviceErr(dev, "set TensorRT device", err)
	}
	if err := o.AppendExecutionProviderTensorRT(p); err != nil {
		return deviceErr(dev, "append TensorRT execution provider", err)
	}
	return nil
}

func deviceErr(dev device, what string, err error) error {
	return &DeviceError{Device: dev.String(), Reason: fmt.Sprintf("%s: %v: check the GPU, its driver and the ONNX Runtime GPU build at %s, or use device cpu", what, err, initPath)}
}

// newORTSession creates an ONNX Runtime session that computes outputs.
func (s *Session) newORTSession(outputs []string) (*onnxruntime.DynamicAdvancedSession, error) {
	ds, err := onnxruntime.NewDynamicAdvancedSessionWithONNXData(s.model, names(s.inputs), outputs, s.opts)
	if err != nil {
		if s.dev.provider != ProviderCPU {
			return nil, deviceErr(s.dev, "create session", err)
		}
		return nil, fmt.Errorf("ort: create session: %w", err)
	}
	return ds, nil
}

// InputNames returns the model's input names in graph order.
func (s *Session) InputNames() []string { return names(s.inputs) }

// OutputNames returns the model's output names in graph order.
func (s *Session) OutputNames() []string { return names(s.outputs) }

// Device returns the device the session runs on, as WithDevice spells it.
func (s *Session) Device() string { return s.dev.String() }

// Run feeds inputs (one tensor per model input, by name) and returns the
// requested outputs by name, copied into Go memory. outputs may name any
// subset of OutputNames, in any order; nil or empty means all of them.
//
// ONNX Runtime only runs the nodes the requested outputs need. Because
// onnxruntime_go fixes a session's outputs when it is created, each
// distinct proper subset gets its own ONNX Runtime session the first time
// it is asked for (costing one session creation and a second copy of the
// weights); up to 8 subsets are kept, later ones run the full graph and
// drop the outputs not asked for.
//
// Cancelling ctx terminates a running Run (ONNX Runtime checks between
// nodes); the error then wraps ctx.Err(). Run is safe for concurrent use.
func (s *Session) Run(ctx context.Context, inputs map[string]*sdk.Tensor, outputs []string) (map[string]*sdk.Tensor, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("ort: run: %w", err)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, fmt.Errorf("ort: run on a closed session: %w", sdk.ErrClosed)
	}
	want, err := s.selectOutputs(outputs)
	if err != nil {
		return nil, err
	}
	ds, runNames, err := s.sessionFor(want)
	if err != nil {
		return nil, err
	}

	in := make([]onnxruntime.Value, len(s.inputs))
	defer func() {
		for _, v := range in {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	if err := s.checkInputs(inputs); err != nil {
		return nil, err
	}
	for i, info := range s.inputs {
		if in[i], err = toValue(info, inputs[info.name]); err != nil {
			return nil, err
		}
	}
	out := make([]onnxruntime.Value, len(runNames))
	defer func() {
		for _, v := range out {
			if v != nil {
				v.Destroy()
			}
		}
	}()
	for i, name := range runNames {
		// onnxruntime_go cannot wrap a rank-0 output it allocates itself,
		// so scalars known from the model get a preallocated value.
		info := s.outputs[slices.IndexFunc(s.outputs, func(o ioInfo) bool { return o.name == name })]
		if info.dims != nil && len(info.dims) == 0 {
			if out[i], err = newScalar(info); err != nil {
				return nil, err
			}
		}
	}

	if err := s.run(ctx, ds, in, out); err != nil {
		return nil, err
	}
	result := make(map[string]*sdk.Tensor, len(want))
	for i, name := range runNames {
		if !slices.Contains(want, name) {
			continue
		}
		t, err := fromValue(out[i])
		if err != nil {
			return nil, fmt.Errorf("ort: output %q: %w", name, err)
		}
		result[name] = t
	}
	return result, nil
}

// run calls ds with a RunOptions that ctx cancellation and Close terminate.
func (s *Session) run(ctx context.Context, ds *onnxruntime.DynamicAdvancedSession, in, out []onnxruntime.Value) (err error) {
	ro, err := onnxruntime.NewRunOptions()
	if err != nil {
		return fmt.Errorf("ort: create run options: %w", err)
	}
	defer ro.Destroy()
	s.activeMu.Lock()
	s.active[ro] = struct{}{}
	s.activeMu.Unlock()
	defer func() {
		s.activeMu.Lock()
		delete(s.active, ro)
		s.activeMu.Unlock()
	}()

	done := make(chan struct{})
	watcher := make(chan struct{})
	go func() {
		defer close(watcher)
		select {
		case <-ctx.Done():
			ro.Terminate()
		case <-done:
		}
	}()
	defer func() {
		close(done)
		<-watcher // ro must outlive the watcher's Terminate
	}()
	defer func() {
		// onnxruntime_go panics on outputs it cannot wrap (a rank-0
		// output the model did not declare as such).
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: ort: run: output conversion failed: %v", sdk.ErrUnsupported, r)
		}
	}()
	if s.closing.Load() {
		return fmt.Errorf("ort: run on a closed session: %w", sdk.ErrClosed)
	}
	if err := ds.RunWithOptions(in, out, ro); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("ort: run terminated: %w", cerr)
		}
		if s.closing.Load() {
			return fmt.Errorf("ort: run terminated by Close: %w", sdk.ErrClosed)
		}
		return fmt.Errorf("ort: run: %w", err)
	}
	return nil
}

// selectOutputs checks requested output names and returns them without
// duplicates, or all outputs when none are named.
func (s *Session) selectOutputs(req []string) ([]string, error) {
	all := names(s.outputs)
	if len(req) == 0 {
		return all, nil
	}
	var want []string
	for _, name := range req {
		if !slices.Contains(all, name) {
			return nil, &sdk.LayerError{Name: name, Suggestions: sdk.Suggest(name, all, 3)}
		}
		if !slices.Contains(want, name) {
			want = append(want, name)
		}
	}
	return want, nil
}

// sessionFor returns the session that computes want and the output names
// it produces, in its order.
func (s *Session) sessionFor(want []string) (*onnxruntime.DynamicAdvancedSession, []string, error) {
	if len(want) == len(s.outputs) {
		return s.full, names(s.outputs), nil
	}
	// Model order, so that {a,b} and {b,a} share a session.
	var ordered []string
	for _, o := range s.outputs {
		if slices.Contains(want, o.name) {
			ordered = append(ordered, o.name)
		}
	}
	key := strings.Join(ordered, "\x00")
	s.subMu.Lock()
	defer s.subMu.Unlock()
	if ds, ok := s.subsets[key]; ok {
		return ds, ordered, nil
	}
	if len(s.subsets) >= maxSubsetSessions || s.model == nil {
		return s.full, names(s.outputs), nil
	}
	ds, err := s.newORTSession(ordered)
	if err != nil {
		return nil, nil, err
	}
	s.subsets[key] = ds
	return ds, ordered, nil
}

// checkInputs checks that inputs names exactly the model's inputs with
// fitting dtypes and shapes.
func (s *Session) checkInputs(inputs map[string]*sdk.Tensor) error {
	valid := names(s.inputs)
	for name := range inputs {
		if !slices.Contains(valid, name) {
			return fmt.Errorf("%w: model has no input %q; its inputs are %s", sdk.ErrBadInput, name, strings.Join(valid, ", "))
		}
	}
	for _, info := range s.inputs {
		t, ok := inputs[info.name]
		if !ok || t == nil {
			return fmt.Errorf("%w: missing input %q; the model needs %s", sdk.ErrBadInput, info.name, strings.Join(valid, ", "))
		}
		if err := t.Validate(); err != nil {
			return fmt.Errorf("input %q: %w", info.name, err)
		}
		want, err := sdkType(info.dtype)
		if err != nil {
			return fmt.Errorf("input %q: %w", info.name, err)
		}
		if t.DType() != want || (info.dims != nil && !fits(info.dims, t.Shape)) {
			return &sdk.ShapeError{What: "input " + strconv.Quote(info.name), DType: t.DType(), WantDType: want, Want: info.dims, Got: t.Shape}
		}
	}
	return nil
}

func fits(want, got []int64) bool {
	if len(want) != len(got) {
		return false
	}
	for i := range want {
		if want[i] >= 0 && want[i] != got[i] {
			return false
		}
	}
	return true
}

func sdkType(t onnxruntime.TensorElementDataType) (sdk.DType, error) {
	switch t {
	case onnxruntime.TensorElementDataTypeFloat:
		return sdk.Float32, nil
	case onnxruntime.TensorElementDataTypeInt64:
		return sdk.Int64, nil
	}
	return 0, fmt.Errorf("%w: model input type %s; gozoo feeds float32 and int64 tensors only: re-export the model with float32 or int64 inputs", sdk.ErrUnsupported, t)
}

func toValue(info ioInfo, t *sdk.Tensor) (onnxruntime.Value, error) {
	var v onnxruntime.Value
	var err error
	// ONNX Runtime only reads inputs, so the tensors wrap t's memory.
	switch {
	case len(t.Shape) == 0 && t.DType() == sdk.Int64:
		v, err = onnxruntime.NewScalar(t.Int64[0])
	case len(t.Shape) == 0:
		v, err = onnxruntime.NewScalar(t.Float32[0])
	case t.DType() == sdk.Int64:
		v, err = onnxruntime.NewTensor(onnxruntime.Shape(slices.Clone(t.Shape)), t.Int64)
	default:
		data := t.Float32
		if data == nil {
			data = []float32{}
		}
		v, err = onnxruntime.NewTensor(onnxruntime.Shape(slices.Clone(t.Shape)), data)
	}
	if err != nil {
		return nil, fmt.Errorf("ort: input %q: %w", info.name, err)
	}
	return v, nil
}

func newScalar(info ioInfo) (onnxruntime.Value, error) {
	switch info.dtype {
	case onnxruntime.TensorElementDataTypeFloat:
		return onnxruntime.NewEmptyScalar[float32]()
	case onnxruntime.TensorElementDataTypeDouble:
		return onnxruntime.NewEmptyScalar[float64]()
	case onnxruntime.TensorElementDataTypeInt64:
		return onnxruntime.NewEmptyScalar[int64]()
	case onnxruntime.TensorElementDataTypeInt32:
		return onnxruntime.NewEmptyScalar[int32]()
	case onnxruntime.TensorElementDataTypeBool:
		return onnxruntime.NewEmptyScalar[bool]()
	}
	return nil, fmt.Errorf("%w: scalar output %q of type %s", sdk.ErrUnsupported, info.name, info.dtype)
}

// fromValue copies an ONNX Runtime output into an sdk.Tensor: float32 and
// float64 become Float32, integer and bool types become Int64.
func fromValue(v onnxruntime.Value) (*sdk.Tensor, error) {
	shape := slices.Clone([]int64(v.GetShape()))
	if shape == nil {
		shape = []int64{}
	}
	t := &sdk.Tensor{Shape: shape}
	switch x := v.(type) {
	case *onnxruntime.Tensor[float32]:
		// Already a Go-memory copy made by onnxruntime_go; Destroy
		// releases only the OrtValue wrapping it.
		t.Float32 = x.GetData()
	case *onnxruntime.Tensor[float64]:
		t.Float32 = convert[float64, float32](x.GetData())
	case *onnxruntime.Tensor[int64]:
		t.Int64 = x.GetData()
	case *onnxruntime.Tensor[int32]:
		t.Int64 = convert[int32, int64](x.GetData())
	case *onnxruntime.Tensor[int16]:
		t.Int64 = convert[int16, int64](x.GetData())
	case *onnxruntime.Tensor[int8]:
		t.Int64 = convert[int8, int64](x.GetData())
	case *onnxruntime.Tensor[uint8]:
		t.Int64 = convert[uint8, int64](x.GetData())
	case *onnxruntime.Tensor[uint16]:
		t.Int64 = convert[uint16, int64](x.GetData())
	case *onnxruntime.Tensor[uint32]:
		t.Int64 = convert[uint32, int64](x.GetData())
	case *onnxruntime.Tensor[bool]:
		t.Int64 = boolsToInt64(x.GetData())
	case *onnxruntime.Scalar[float32]:
		t.Float32 = []float32{x.GetData()}
	case *onnxruntime.Scalar[float64]:
		t.Float32 = []float32{float32(x.GetData())}
	case *onnxruntime.Scalar[int64]:
		t.Int64 = []int64{x.GetData()}
	case *onnxruntime.Scalar[int32]:
		t.Int64 = []int64{int64(x.GetData())}
	case *onnxruntime.Scalar[bool]:
		t.Int64 = boolsToInt64([]bool{x.GetData()})
	default:
		return nil, fmt.Errorf("%w: output type %s of element type %v; gozoo returns float32 and int64 tensors", sdk.ErrUnsupported, v.GetONNXType(), v.DataType())
	}
	if t.Float32 == nil && t.Int64 == nil {
		t.Float32 = []float32{}
	}
	return t, nil
}

func convert[From, To int8 | uint8 | int16 | uint16 | int32 | uint32 | int64 | float32 | float64](in []From) []To {
	out := make([]To, len(in))
	for i, v := range in {
		out[i] = To(v)
	}
	return out
}

func boolsToInt64(in []bool) []int64 {
	out := make([]int64, len(in))
	for i, b := range in {
		if b {
			out[i] = 1
		}
	}
	return out
}

// Close terminates the Runs in flight, waits for them, and releases the
// session's ONNX Runtime resources. It is idempotent and safe to call
// concurrently with Run; Runs after Close fail with sdk.ErrClosed.
func (s *Session) Close() error {
	s.closing.Store(true)
	s.activeMu.Lock()
	for ro := range s.active {
		ro.Terminate()
	}
	s.activeMu.Unlock()

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	var errs []error
	s.subMu.Lock()
	for k, ds := range s.subsets {
		errs = append(errs, ds.Destroy())
		delete(s.subsets, k)
	}
	s.subMu.Unlock()
	if s.full != nil {
		errs = append(errs, s.full.Destroy())
		s.full = nil
	}
	if s.opts != nil {
		errs = append(errs, s.opts.Destroy())
		s.opts = nil
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("ort: close session: %w", err)
	}
	return nil
}
