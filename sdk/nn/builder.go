package nn

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// ErrBuild marks a graph that cannot be built, usually because an input is
// too small for the architecture or two modules disagree on a shape. It
// wraps sdk.ErrBadInput.
var ErrBuild = fmt.Errorf("nn: cannot build graph: %w", sdk.ErrBadInput)

// ErrTooLarge marks a model whose parameters would not fit the limits
// below, refused when it is declared, before any weight is allocated. It
// wraps sdk.ErrBadOption: the options that size the model are too large.
var ErrTooLarge = fmt.Errorf("nn: model too large: %w", sdk.ErrBadOption)

// MaxTensorElements is the most elements one parameter or buffer may
// have (2^31).
const MaxTensorElements = 1 << 31

// DefaultMaxParams is the most elements all parameters and buffers of one
// model may have together, unless $GOZOO_MAX_PARAMS says otherwise: 2^29
// float32 values, 2 GiB, the most one ONNX model file (a single protobuf
// message) can hold with its weights inside, as ONNX serialises them.
const DefaultMaxParams = 1 << 29

// maxParams returns $GOZOO_MAX_PARAMS when it is a positive integer, or
// DefaultMaxParams.
func maxParams() int64 {
	if v, err := strconv.ParseInt(os.Getenv("GOZOO_MAX_PARAMS"), 10, 64); err == nil && v > 0 {
		return v
	}
	return DefaultMaxParams
}

// elements is the product of shape, saturated at math.MaxInt64 so that
// absurd sizes do not wrap around; ok is false for a negative dimension.
func elements(shape []int64) (n int64, ok bool) {
	n = 1
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		if d != 0 && n > math.MaxInt64/d {
			n = math.MaxInt64
			continue
		}
		n *= d
	}
	return n, true
}

// tensor is one value in the graph. Values point at tensors so that a
// rename (when a module is called again) reaches every holder.
type tensor struct {
	name  string
	shape []int64
	dtype sdk.DType
}

// Value is a tensor produced while building: a graph input, a parameter or
// a module's output. The zero Value is invalid.
type Value struct{ t *tensor }

// Name returns the tensor's current name in the graph.
func (v Value) Name() string {
	if v.t == nil {
		return ""
	}
	return v.t.name
}

// Shape returns a copy of the tensor's shape, -1 for the batch dimension.
func (v Value) Shape() []int64 {
	if v.t == nil {
		return nil
	}
	return append([]int64(nil), v.t.shape...)
}

// Valid reports whether v holds a tensor.
func (v Value) Valid() bool { return v.t != nil }

type node struct {
	op      string
	inputs  []*tensor
	outputs []*tensor
	attrs   []Attr
}

type layer struct {
	name  string
	kind  string
	out   *tensor
	calls int
}

type input struct {
	t       *tensor
	dynamic []int
}

// Builder records the modules, parameters and ONNX nodes of one forward
// pass. Build errors are sticky: after the first one, ops return a Value
// that keeps the graph going and Err reports the error.
type Builder struct {
	kind     string
	scope    []string
	nodes    []*node
	layers   []*layer
	layerIdx map[string]*layer
	specs    []ParamSpec
	specIdx  map[string]int
	params   map[string]*tensor
	inputs   []input
	names    map[string]bool // tensor names in use
	anon     int
	err      error
	total    int64 // elements of every spec, saturated
	limit    int64 // most elements of all specs together
}

// NewBuilder starts an empty graph for a network whose root module has the
// given PyTorch class name (e.g. "ResNet"). The root is not a layer.
func NewBuilder(kind string) *Builder {
	return &Builder{
		kind:     kind,
		layerIdx: map[string]*layer{},
		specIdx:  map[string]int{},
		params:   map[string]*tensor{},
		names:    map[string]bool{},
		limit:    maxParams(),
	}
}

// Kind returns the root module's class name.
func (b *Builder) Kind() string { return b.kind }

// Err returns the first build error, or nil.
func (b *Builder) Err() error { return b.err }

// Failf records a build error (the first one wins) wrapping ErrBuild.
// Modules call it when shapes do not fit.
func (b *Builder) Failf(format string, args ...any) {
	if b.err == nil {
		b.err = fmt.Errorf("%s: %w", fmt.Sprintf(format, args...), ErrBuild)
	}
}

// Path returns the full module path of name in the current scope.
func (b *Builder) Path(name string) string {
	if len(b.scope) == 0 {
		return name
	}
	if name == "" {
		return strings.Join(b.scope, ".")
	}
	return strings.Join(b.scope, ".") + "." + name
}

// Input adds a float32 graph input. shape is the concrete shape the
// builder computes output shapes for (batch -1); dims listed in dynamic
// (and every negative dim) are written to the ONNX graph as symbolic, so
// one session serves any batch and, for example, any image size.
func (b *Builder) Input(name string, shape []int64, dynamic ...int) Value {
	t := &tensor{name: name, shape: append([]int64(nil), shape...), dtype: sdk.Float32}
	b.claim(name)
	b.inputs = append(b.inputs, input{t: t, dynamic: dynamic})
	return Value{t}
}

func (b *Builder) claim(name string) {
	if b.names[name] {
		b.Failf("tensor name %q used twice", name)
	}
	b.names[name] = true
}

// Module runs forward as the body of container module name (class kind),
// with name pushed on the scope, and returns its result as the container's
// output. Containers are layers too, listed before their children as
// torch's named_modules lists them.
func (b *Builder) Module(name, kind string, forward func() Value) Value {
	path := b.Path(name)
	l := b.enter(path, kind)
	b.scope = append(b.scope, name)
	out := forward()
	b.scope = b.scope[:len(b.scope)-1]
	if out.t == nil {
		b.Failf("module %s returned no value", path)
		return Value{}
	}
	l.out = out.t
	return out
}

// enter records a call of module path, listing it on its first call.
func (b *Builder) enter(path, kind string) *layer {
	l, ok := b.layerIdx[path]
	if !ok {
		l = &layer{name: path, kind: kind}
		b.layerIdx[path] = l
		b.layers = append(b.layers, l)
	} else if l.kind != kind {
		b.Failf("module %s called as %s and as %s", path, l.kind, kind)
	}
	l.calls++
	return l
}

// Node adds one ONNX node of type op. With a non-empty name it is the
// whole of leaf module name (class kind): its output tensor takes the
// module's path as its name, and a repeated call renames the earlier
// output to "PATH#k". With an empty name it is a functional op and not a
// layer. shape is the output shape, computed by the caller.
func (b *Builder) Node(name, kind, op string, inputs []Value, shape []int64, attrs ...Attr) Value {
	ins := make([]*tensor, len(inputs))
	dtype := sdk.Float32
	for i, v := range inputs {
		if v.t == nil {
			b.Failf("%s: input %d of %s is missing", b.Path(name), i, op)
			v = Value{b.placeholder()}
		}
		ins[i] = v.t
	}
	if len(ins) > 0 {
		dtype = ins[0].dtype
	}
	var tname string
	if name == "" {
		b.anon++
		scope := b.Path("")
		tname = scope + "/" + op + "_" + strconv.Itoa(b.anon)
	} else {
		path := b.Path(name)
		l := b.enter(path, kind)
		if l.calls > 1 {
			// The earlier call's output gives up the module's name.
			l.out.name = path + "#" + strconv.Itoa(l.calls-1)
			b.names[l.out.name] = true
		} else {
			b.claim(path)
		}
		tname = path
	}
	out := &tensor{name: tname, shape: append([]int64(nil), shape...), dtype: dtype}
	b.nodes = append(b.nodes, &node{op: op, inputs: ins, outputs: []*tensor{out}, attrs: attrs})
	if name != "" {
		b.layerIdx[b.Path(name)].out = out
	}
	return Value{out}
}

func (b *Builder) placeholder() *tensor {
	return &tensor{name: "?", shape: []int64{-1}, dtype: sdk.Float32}
}

// Param declares a float32 parameter (Buffer false) or buffer of the
// current module scope, e.g. Param("weight", ...) inside "layer1.0.conv1"
// declares "layer1.0.conv1.weight". Declaring the same name again with the
// same shape shares it; another shape is a build error.
func (b *Builder) Param(name string, shape []int64, init Init) Value {
	return b.declare(ParamSpec{Name: b.Path(name), Shape: shape, DType: sdk.Float32, Init: init})
}

// Buffer declares a float32 buffer (in the state_dict, not a parameter),
// such as BatchNorm's running_mean.
func (b *Builder) Buffer(name string, shape []int64, init Init) Value {
	return b.declare(ParamSpec{Name: b.Path(name), Shape: shape, DType: sdk.Float32, Buffer: true, Init: init})
}

// StateOnly declares a state_dict entry that the graph never reads, such
// as BatchNorm's int64 num_batches_tracked. Optional entries may be absent
// from a state_dict, as torch allows for num_batches_tracked.
func (b *Builder) StateOnly(name string, shape []int64, dtype sdk.DType, optional bool) {
	b.declare(ParamSpec{Name: b.Path(name), Shape: shape, DType: dtype, Buffer: true, Unused: true, Optional: optional})
}

func (b *Builder) declare(s ParamSpec) Value {
	s.Shape = append([]int64(nil), s.Shape...)
	if i, ok := b.specIdx[s.Name]; ok {
		old := b.specs[i]
		if !sdk.EqualShape(old.Shape, s.Shape) || old.Buffer != s.Buffer {
			b.Failf("parameter %s declared as %s and as %s", s.Name, sdk.FormatShape(old.Shape), sdk.FormatShape(s.Shape))
		}
		return Value{b.params[s.Name]}
	}
	b.checkSize(s)
	b.specIdx[s.Name] = len(b.specs)
	b.specs = append(b.specs, s)
	t := &tensor{name: s.Name, shape: s.Shape, dtype: s.DType}
	b.claim(s.Name)
	b.params[s.Name] = t
	return Value{t}
}

// checkSize records an ErrTooLarge (or ErrBuild for a negative
// dimension) when s would pass MaxTensorElements or bring the model over
// its total limit. Shapes only are checked: nothing is allocated here.
func (b *Builder) checkSize(s ParamSpec) {
	n, ok := elements(s.Shape)
	if !ok {
		b.Failf("parameter %s has a negative dimension in %s", s.Name, sdk.FormatShape(s.Shape))
		return
	}
	if n > MaxTensorElements {
		b.tooLarge(fmt.Sprintf("parameter %s of shape %s would have %s elements, over the limit of %d (2^31) per tensor: lower the option that sizes it",
			s.Name, sdk.FormatShape(s.Shape), count(n), int64(MaxTensorElements)))
		return
	}
	if b.total > math.MaxInt64-n {
		b.total = math.MaxInt64
	} else {
		b.total += n
	}
	if b.total > b.limit {
		b.tooLarge(fmt.Sprintf("the parameters would have %s elements with %s (shape %s), over the limit of %d per model (%s of float32; set GOZOO_MAX_PARAMS to raise it): lower the options that size the model",
			count(b.total), s.Name, sdk.FormatShape(s.Shape), b.limit, float32Bytes(b.limit)))
	}
}

func (b *Builder) tooLarge(msg string) {
	if b.err == nil {
		b.err = fmt.Errorf("%w: %s", ErrTooLarge, msg)
	}
}

// float32Bytes shows the size of n float32 values.
func float32Bytes(n int64) string {
	switch b := float64(n) * 4; {
	case b >= 1<<30:
		return fmt.Sprintf("%.1f GiB", b/(1<<30))
	case b >= 1<<20:
		return fmt.Sprintf("%.1f MiB", b/(1<<20))
	default:
		return fmt.Sprintf("%.0f bytes", b)
	}
}

// count prints n, or "more than 9.2e18" once it saturated.
func count(n int64) string {
	if n == math.MaxInt64 {
		return "more than 9.2e18"
	}
	return strconv.FormatInt(n, 10)
}

// Specs returns every state_dict entry in declaration order (PyTorch's
// registration order for modules written parameters-first).
func (b *Builder) Specs() []ParamSpec {
	out := make([]ParamSpec, len(b.specs))
	for i, s := range b.specs {
		s.Shape = append([]int64(nil), s.Shape...)
		out[i] = s
	}
	return out
}

// Params lists the parameters (not buffers) as sdk.Params, all trainable.
func (b *Builder) Params() []sdk.Param {
	var out []sdk.Param
	for _, s := range b.specs {
		if !s.Buffer {
			out = append(out, sdk.Param{Name: s.Name, Shape: append([]int64(nil), s.Shape...), Trainable: true})
		}
	}
	return out
}

// Layers lists every module (containers and leaves, not the root) in the
// order of their first call, with output shapes and parameter counts.
func (b *Builder) Layers() []sdk.Layer {
	out := make([]sdk.Layer, 0, len(b.layers))
	for _, l := range b.layers {
		var n int64
		prefix := l.name + "."
		for _, s := range b.specs {
			if !s.Buffer && strings.HasPrefix(s.Name, prefix) {
				n += sdk.NumElements(s.Shape)
			}
		}
		var shape []int64
		if l.out != nil {
			shape = append([]int64(nil), l.out.shape...)
		}
		out = append(out, sdk.Layer{Name: l.name, Kind: l.kind, Shape: shape, Params: n})
	}
	return out
}

// LayerNames lists the layer names in Layers order.
func (b *Builder) LayerNames() []string {
	out := make([]string, len(b.layers))
	for i, l := range b.layers {
		out[i] = l.name
	}
	return out
}

// Layer returns the module named name, or a *sdk.LayerError with close
// matches.
func (b *Builder) Layer(name string) (sdk.Layer, error) {
	l, ok := b.layerIdx[name]
	if !ok {
		return sdk.Layer{}, &sdk.LayerError{Name: name, Suggestions: sdk.Suggest(name, b.LayerNames(), 5)}
	}
	for _, x := range b.Layers() {
		if x.Name == l.name {
			return x, nil
		}
	}
	return sdk.Layer{}, errors.New("nn: unreachable")
}

// Output returns the value module name produced (its last call's), or a
// *sdk.LayerError.
func (b *Builder) Output(name string) (Value, error) {
	l, ok := b.layerIdx[name]
	if !ok || l.out == nil {
		return Value{}, &sdk.LayerError{Name: name, Suggestions: sdk.Suggest(name, b.LayerNames(), 5)}
	}
	return Value{l.out}, nil
}

// InputNames returns the graph's input names in the order they were added.
func (b *Builder) InputNames() []string {
	out := make([]string, len(b.inputs))
	for i, in := range b.inputs {
		out[i] = in.t.name
	}
	return out
}
