package quant

import (
	"encoding/binary"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/protobuf/proto"
)

// ONNX element types the quantizer reads and writes.
const (
	typeFloat = int32(onnxpb.TensorProto_FLOAT)
	typeUint8 = int32(onnxpb.TensorProto_UINT8)
	typeInt8  = int32(onnxpb.TensorProto_INT8)
	typeInt32 = int32(onnxpb.TensorProto_INT32)
)

// graph is an ONNX model being transformed, with indexes over its
// graph. The indexes are rebuilt by index after the node list changes.
type graph struct {
	m     *onnxpb.ModelProto
	g     *onnxpb.GraphProto
	inits map[string]*onnxpb.TensorProto // constant initializers
	names map[string]bool                // every tensor and node name in use

	producer map[string]*onnxpb.NodeProto
	uses     map[string][]use // node inputs reading a tensor, in node order
	outputs  map[string]bool  // graph outputs
	inputs   map[string]bool  // graph inputs that are not initializers
}

// use is one node input reading a tensor.
type use struct {
	n    *onnxpb.NodeProto
	slot int
}

// parse reads an ONNX model.
func parse(model []byte) (*graph, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(model, mp); err != nil {
		return nil, fmt.Errorf("quant: %w: not an ONNX model (%v): pass the bytes of an .onnx file", sdk.ErrBadInput, err)
	}
	if mp.GetGraph() == nil || len(mp.GetGraph().GetNode()) == 0 {
		return nil, fmt.Errorf("quant: %w: the ONNX model has no graph: pass the bytes of an .onnx file", sdk.ErrBadInput)
	}
	for _, t := range mp.GetGraph().GetInitializer() {
		if t.GetDataLocation() == onnxpb.TensorProto_EXTERNAL || len(t.GetExternalData()) > 0 {
			return nil, fmt.Errorf("quant: %w: initializer %s is external data: load the model with its data inlined (the onnx plugin does)", sdk.ErrUnsupported, t.GetName())
		}
	}
	g := &graph{m: mp, g: mp.Graph}
	g.index()
	return g, nil
}

// index rebuilds the name sets and the producer and use maps.
func (g *graph) index() {
	g.inits = map[string]*onnxpb.TensorProto{}
	g.names = map[string]bool{}
	g.producer = map[string]*onnxpb.NodeProto{}
	g.uses = map[string][]use{}
	g.outputs = map[string]bool{}
	g.inputs = map[string]bool{}
	for _, t := range g.g.Initializer {
		g.inits[t.GetName()] = t
		g.names[t.GetName()] = true
	}
	for _, v := range g.g.Input {
		g.names[v.GetName()] = true
		if _, ok := g.inits[v.GetName()]; ok {
			// An initializer listed as an input may be overridden at run
			// time: it is not a constant.
			delete(g.inits, v.GetName())
		} else {
			g.inputs[v.GetName()] = true
		}
	}
	for _, v := range g.g.Output {
		g.outputs[v.GetName()] = true
		g.names[v.GetName()] = true
	}
	for _, n := range g.g.Node {
		if n.GetName() != "" {
			g.names[n.GetName()] = true
		}
		for i, in := range n.Input {
			if in != "" {
				g.uses[in] = append(g.uses[in], use{n, i})
				g.names[in] = true
			}
		}
		for _, out := range n.Output {
			if out != "" {
				g.producer[out] = n
				g.names[out] = true
			}
		}
	}
}

// fresh returns base, or base with a number appended, unused so far, and
// claims it.
func (g *graph) fresh(base string) string {
	name := base
	for i := 1; g.names[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	g.names[name] = true
	return name
}

// marshal writes the model.
func (g *graph) marshal() ([]byte, error) {
	return proto.Marshal(g.m)
}

// dropUnused removes initializers no node reads.
func (g *graph) dropUnused() {
	read := map[string]bool{}
	for _, n := range g.g.Node {
		for _, in := range n.Input {
			read[in] = true
		}
	}
	for _, v := range g.g.Output {
		read[v.GetName()] = true
	}
	kept := g.g.Initializer[:0]
	for _, t := range g.g.Initializer {
		if read[t.GetName()] {
			kept = append(kept, t)
		}
	}
	g.g.Initializer = kept
}

// floatInit returns the values of a float32 constant initializer with
// positive dimensions, or nil when name is not one.
func (g *graph) floatInit(name string) (*onnxpb.TensorProto, []float32) {
	t, ok := g.inits[name]
	if !ok || t.GetDataType() != typeFloat {
		return nil, nil
	}
	for _, d := range t.GetDims() {
		if d <= 0 {
			return nil, nil // nothing to quantize, or a malformed shape
		}
	}
	v, err := floats(t)
	if err != nil {
		return nil, nil
	}
	return t, v
}

// floats decodes a float32 tensor's values.
func floats(t *onnxpb.TensorProto) ([]float32, error) {
	n := int64(1)
	for _, d := range t.GetDims() {
		n *= d
	}
	if raw := t.GetRawData(); raw != nil || len(t.GetFloatData()) == 0 {
		if int64(len(raw)) != 4*n {
			return nil, fmt.Errorf("quant: initializer %s has %d bytes for %d floats", t.GetName(), len(raw), n)
		}
		out := make([]float32, n)
		for i := range out {
			out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
		return out, nil
	}
	if int64(len(t.GetFloatData())) != n {
		return nil, fmt.Errorf("quant: initializer %s has %d floats for shape %v", t.GetName(), len(t.GetFloatData()), t.GetDims())
	}
	return append([]float32(nil), t.GetFloatData()...), nil
}

// Initializer constructors; values are stored little-endian in raw_data.

func floatTensor(name string, dims []int64, v []float32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: typeFloat, RawData: raw}
}

func int32Tensor(name string, dims []int64, v []int32) *onnxpb.TensorProto {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], uint32(x))
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: typeInt32, RawData: raw}
}

// byteTensor holds 8-bit values of type dt (uint8 or int8), given as
// int32 in the type's range.
func byteTensor(name string, dt int32, dims []int64, v []int32) *onnxpb.TensorProto {
	raw := make([]byte, len(v))
	for i, x := range v {
		raw[i] = byte(x)
	}
	return &onnxpb.TensorProto{Name: name, Dims: dims, DataType: dt, RawData: raw}
}

// Attribute helpers.

func attr(n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	return nil
}

func attrInt(n *onnxpb.NodeProto, name string, def int64) int64 {
	if a := attr(n, name); a != nil {
		return a.GetI()
	}
	return def
}

func attrFloat(n *onnxpb.NodeProto, name string, def float32) float32 {
	if a := attr(n, name); a != nil {
		return a.GetF()
	}
	return def
}

// setAttrFloat sets a float attribute, adding it when absent.
func setAttrFloat(n *onnxpb.NodeProto, name string, v float32) {
	if a := attr(n, name); a != nil {
		a.F = v
		return
	}
	n.Attribute = append(n.Attribute, &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v})
}

func intAttr(name string, v int64) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: v}
}

// module returns the PyTorch module path a node belongs to. sdk/nn
// names a module's node after the module ("layer1.0.conv1") and a
// functional op after the module whose forward runs it and the op
// ("layer1.0/Add_7"); torch.onnx.export writes scopes
// ("/layer1/layer1.0/conv1/Conv"). functional reports the second and
// third kind, whose module is the one running them.
func module(name string) (path string, functional bool) {
	if strings.HasPrefix(name, "/") {
		parts := strings.Split(name[1:], "/")
		parent := ""
		for _, c := range parts[:len(parts)-1] {
			if parent != "" && !strings.HasPrefix(c, parent+".") {
				c = parent + "." + c
			}
			parent = c
		}
		return parent, true
	}
	if i := strings.LastIndex(name, "/"); i >= 0 {
		return name[:i], true
	}
	return name, false
}
