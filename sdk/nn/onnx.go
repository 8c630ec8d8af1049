package nn

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/protobuf/proto"
)

// Opset is the ONNX opset the graphs use.
const Opset = 17

// irVersion is the ONNX IR version matching opset 17.
const irVersion = 8

// littleEndian reports whether this machine stores float32 the way ONNX
// raw_data does, so weights can be marshalled without conversion.
var littleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// ONNX serialises the graph as an ONNX model (opset 17) whose outputs are
// the named modules, in order, each under its module name. Nodes that no
// output needs are left out, and so are their initializers. The float32
// initializers share w's memory until marshalling, which copies each once
// into the returned bytes.
//
// An unknown name is a *sdk.LayerError; a graph with a build error returns
// that error.
func (b *Builder) ONNX(w *Weights, outputs []string) ([]byte, error) {
	m, err := b.model(w, outputs, false)
	if err != nil {
		return nil, err
	}
	return proto.Marshal(m)
}

// GraphKey identifies the ONNX graph that ONNX(w, outputs) would write,
// without its weights: two builders (say, of one net for two input
// sizes) whose keys are equal for a set of outputs write the same graph,
// so one ONNX Runtime session serves both.
func (b *Builder) GraphKey(outputs []string) (string, error) {
	m, err := b.model(nil, outputs, true)
	if err != nil {
		return "", err
	}
	// Intermediate tensors take their names from a builder-wide counter,
	// so an unrelated module elsewhere in the net shifts them: name them
	// by their order in the pruned graph instead.
	g := m.Graph
	keep := map[string]bool{}
	for _, v := range g.Output {
		keep[v.Name] = true
	}
	for _, v := range g.Input {
		keep[v.Name] = true
	}
	rename := map[string]string{}
	for i, n := range g.Node {
		n.Name = ""
		for j, in := range n.Input {
			if r, ok := rename[in]; ok {
				n.Input[j] = r
			}
		}
		for j, out := range n.Output {
			if !keep[out] {
				rename[out] = "t" + strconv.Itoa(i) + "." + strconv.Itoa(j)
				n.Output[j] = rename[out]
			}
		}
	}
	raw, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:]), nil
}

// model builds the ONNX model of outputs. keyOnly leaves the initializers
// out (GraphKey), so w may be nil.
func (b *Builder) model(w *Weights, outputs []string, keyOnly bool) (*onnxpb.ModelProto, error) {
	if b.err != nil {
		return nil, b.err
	}
	if len(outputs) == 0 {
		return nil, fmt.Errorf("nn: no outputs asked for: name at least one layer: %w", sdk.ErrBadInput)
	}
	g := &onnxpb.GraphProto{Name: b.kind}
	// Resolve outputs; modules whose tensor carries another name get an
	// Identity node named after the module.
	var roots []*tensor
	var aliases []*onnxpb.NodeProto
	seen := map[string]bool{}
	for _, name := range outputs {
		if seen[name] {
			continue
		}
		seen[name] = true
		v, err := b.Output(name)
		if err != nil {
			return nil, err
		}
		roots = append(roots, v.t)
		if v.t.name != name {
			aliases = append(aliases, &onnxpb.NodeProto{
				Name: name, OpType: "Identity", Input: []string{v.t.name}, Output: []string{name},
			})
		}
		// Output dims depend on the input's symbolic dims: leave them
		// unknown, keeping the rank.
		g.Output = append(g.Output, valueInfo(name, v.t.dtype, len(v.t.shape), func(int) (int64, string) { return -1, "" }))
	}

	// Walk back from the outputs to find the needed nodes.
	producer := make(map[*tensor]int, len(b.nodes))
	for i, n := range b.nodes {
		for _, o := range n.outputs {
			producer[o] = i
		}
	}
	need := make([]bool, len(b.nodes))
	stack := append([]*tensor(nil), roots...)
	used := map[*tensor]bool{}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if used[t] {
			continue
		}
		used[t] = true
		if i, ok := producer[t]; ok && !need[i] {
			need[i] = true
			stack = append(stack, b.nodes[i].inputs...)
		}
	}

	for i, n := range b.nodes {
		if !need[i] {
			continue
		}
		np := &onnxpb.NodeProto{Name: n.outputs[0].name, OpType: n.op}
		for _, t := range n.inputs {
			np.Input = append(np.Input, t.name)
		}
		for _, t := range n.outputs {
			np.Output = append(np.Output, t.name)
		}
		for _, a := range n.attrs {
			np.Attribute = append(np.Attribute, attrProto(a))
		}
		g.Node = append(g.Node, np)
	}
	g.Node = append(g.Node, aliases...)

	for _, in := range b.inputs {
		g.Input = append(g.Input, valueInfo(in.t.name, in.t.dtype, len(in.t.shape), func(i int) (int64, string) {
			d := in.t.shape[i]
			dyn := d < 0
			for _, a := range in.dynamic {
				dyn = dyn || a == i
			}
			if !dyn {
				return d, ""
			}
			if i == 0 {
				return 0, "N"
			}
			return 0, "d" + strconv.Itoa(i)
		}))
	}

	for _, s := range b.specs {
		t := b.params[s.Name]
		if !used[t] {
			continue
		}
		if keyOnly {
			// The parameter's name and shape, not its values.
			g.Input = append(g.Input, valueInfo(s.Name, s.DType, len(s.Shape), func(i int) (int64, string) { return s.Shape[i], "" }))
			continue
		}
		if w == nil {
			return nil, fmt.Errorf("nn: graph needs weights: load or initialise them first: %w", sdk.ErrWeights)
		}
		v := w.Tensor(s.Name)
		if v == nil || !sdk.EqualShape(v.Shape, s.Shape) {
			return nil, fmt.Errorf("nn: weights lack %s %s: %w", s.Name, sdk.FormatShape(s.Shape), sdk.ErrWeights)
		}
		g.Initializer = append(g.Initializer, tensorProto(s.Name, v))
	}
	return &onnxpb.ModelProto{
		IrVersion:    irVersion,
		ProducerName: "gozoo",
		OpsetImport:  []*onnxpb.OperatorSetIdProto{{Version: Opset}},
		Graph:        g,
	}, nil
}

func valueInfo(name string, dt sdk.DType, rank int, dim func(int) (int64, string)) *onnxpb.ValueInfoProto {
	tt := &onnxpb.TypeProto_Tensor{ElemType: elemType(dt)}
	if dim != nil {
		tt.Shape = &onnxpb.TensorShapeProto{}
		for i := 0; i < rank; i++ {
			v, p := dim(i)
			d := &onnxpb.TensorShapeProto_Dimension{}
			// An unknown dimension (v < 0, no name) has neither.
			switch {
			case p != "":
				d.Value = &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: p}
			case v >= 0:
				d.Value = &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}
			}
			tt.Shape.Dim = append(tt.Shape.Dim, d)
		}
	}
	return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: tt}}}
}

func elemType(dt sdk.DType) int32 {
	if dt == sdk.Int64 {
		return int32(onnxpb.TensorProto_INT64)
	}
	return int32(onnxpb.TensorProto_FLOAT)
}

// tensorProto wraps t as an initializer. On little-endian machines
// raw_data aliases t's memory, so no copy is made before marshalling.
func tensorProto(name string, t *sdk.Tensor) *onnxpb.TensorProto {
	tp := &onnxpb.TensorProto{Name: name, Dims: append([]int64(nil), t.Shape...), DataType: elemType(t.DType())}
	switch {
	case t.Int64 != nil:
		tp.Int64Data = t.Int64
	case len(t.Float32) == 0:
		tp.RawData = []byte{}
	case littleEndian:
		tp.RawData = unsafe.Slice((*byte)(unsafe.Pointer(&t.Float32[0])), 4*len(t.Float32))
	default:
		tp.FloatData = t.Float32
	}
	return tp
}

func attrProto(a Attr) *onnxpb.AttributeProto {
	p := &onnxpb.AttributeProto{Name: a.Name}
	switch a.Kind {
	case AttrInt:
		p.Type, p.I = onnxpb.AttributeProto_INT, a.Int
	case AttrFloat:
		p.Type, p.F = onnxpb.AttributeProto_FLOAT, a.Float
	case AttrInts:
		p.Type, p.Ints = onnxpb.AttributeProto_INTS, a.Ints
	case AttrString:
		p.Type, p.S = onnxpb.AttributeProto_STRING, []byte(a.Str)
	}
	return p
}
