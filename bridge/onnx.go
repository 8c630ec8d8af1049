package bridge

import (
	"fmt"
	"os"
	"strings"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/protobuf/proto"
)

// ONNXInput is one input of an ONNX graph: a graph input that no
// initializer feeds.
type ONNXInput struct {
	Name string
	// DType is Float32 or Int64, or 0 for another element type (Type
	// names it).
	DType sdk.DType
	Type  string // element type: "float32", "int64", "float16", ...
	// Shape holds -1 for a dimension that is symbolic or unknown; Dims
	// holds each dimension's symbolic name ("" when it is fixed).
	Shape []int64
	Dims  []string
}

// ReadONNXInputs returns the inputs of the ONNX model in the file at path,
// in graph order.
func ReadONNXInputs(path string) ([]ONNXInput, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("onnx inputs: %w", err)
	}
	ins, err := ParseONNXInputs(data)
	if err != nil {
		return nil, fmt.Errorf("onnx inputs of %s: %w", path, err)
	}
	return ins, nil
}

// ParseONNXInputs returns the inputs of a serialized ONNX model. Bytes
// that are not an ONNX model are an error wrapping ErrCorrupt.
func ParseONNXInputs(data []byte) ([]ONNXInput, error) {
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(data, mp); err != nil {
		return nil, fmt.Errorf("%w: not an ONNX model: %v", ErrCorrupt, err)
	}
	g := mp.GetGraph()
	if g == nil || len(g.GetNode()) == 0 {
		return nil, fmt.Errorf("%w: not an ONNX model: no graph nodes", ErrCorrupt)
	}
	return GraphInputs(g), nil
}

// GraphInputs returns the inputs of g that no initializer feeds.
func GraphInputs(g *onnxpb.GraphProto) []ONNXInput {
	inits := map[string]bool{}
	for _, t := range g.GetInitializer() {
		inits[t.GetName()] = true
	}
	var out []ONNXInput
	for _, in := range g.GetInput() {
		if inits[in.GetName()] {
			continue
		}
		tt := in.GetType().GetTensorType()
		e := ONNXInput{Name: in.GetName(), Type: ElemTypeName(tt.GetElemType())}
		switch onnxpb.TensorProto_DataType(tt.GetElemType()) {
		case onnxpb.TensorProto_FLOAT:
			e.DType = sdk.Float32
		case onnxpb.TensorProto_INT64:
			e.DType = sdk.Int64
		}
		for _, d := range tt.GetShape().GetDim() {
			if v := d.GetDimValue(); v > 0 {
				e.Shape = append(e.Shape, v)
				e.Dims = append(e.Dims, "")
			} else {
				e.Shape = append(e.Shape, -1)
				e.Dims = append(e.Dims, d.GetDimParam())
			}
		}
		out = append(out, e)
	}
	return out
}

// ElemTypeName names an ONNX TensorProto element type as numpy does
// ("float32", "int64"), or "type N" for one without a name.
func ElemTypeName(t int32) string {
	name, ok := onnxpb.TensorProto_DataType_name[t]
	if !ok || t == 0 {
		return fmt.Sprintf("type %d", t)
	}
	switch name {
	case "FLOAT":
		return "float32"
	case "DOUBLE":
		return "float64"
	}
	return strings.ToLower(name)
}

// String formats the input as NAME DTYPE[d0, d1, ...] with symbolic
// dimensions as N: "input float32[N, 3, 224, 224]".
func (in ONNXInput) String() string {
	return in.Name + " " + in.Type + sdk.FormatShape(in.Shape)
}
