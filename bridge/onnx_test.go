package bridge

import (
	"errors"
	"reflect"
	"testing"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/protobuf/proto"
)

func onnxModel(tb testing.TB) []byte {
	tb.Helper()
	dim := func(v int64, p string) *onnxpb.TensorShapeProto_Dimension {
		if p != "" {
			return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: p}}
		}
		return &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}}
	}
	vi := func(name string, t onnxpb.TensorProto_DataType, dims ...*onnxpb.TensorShapeProto_Dimension) *onnxpb.ValueInfoProto {
		return &onnxpb.ValueInfoProto{Name: name, Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{TensorType: &onnxpb.TypeProto_Tensor{
			ElemType: int32(t), Shape: &onnxpb.TensorShapeProto{Dim: dims}}}}}
	}
	mp := &onnxpb.ModelProto{Graph: &onnxpb.GraphProto{
		Node: []*onnxpb.NodeProto{{OpType: "Gather", Input: []string{"emb.weight", "tokens"}, Output: []string{"y"}}},
		Input: []*onnxpb.ValueInfoProto{
			vi("tokens", onnxpb.TensorProto_INT64, dim(0, "N"), dim(12, "")),
			vi("mask", onnxpb.TensorProto_FLOAT, dim(0, "N"), dim(0, "T")),
			vi("emb.weight", onnxpb.TensorProto_FLOAT, dim(10, ""), dim(4, "")), // an initializer, not an input
			vi("half", onnxpb.TensorProto_FLOAT16, dim(2, "")),
		},
		Initializer: []*onnxpb.TensorProto{{Name: "emb.weight", Dims: []int64{10, 4}, DataType: int32(onnxpb.TensorProto_FLOAT)}},
	}}
	data, err := proto.Marshal(mp)
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

func TestParseONNXInputs(t *testing.T) {
	got, err := ParseONNXInputs(onnxModel(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []ONNXInput{
		{Name: "tokens", DType: sdk.Int64, Type: "int64", Shape: []int64{-1, 12}, Dims: []string{"N", ""}},
		{Name: "mask", DType: sdk.Float32, Type: "float32", Shape: []int64{-1, -1}, Dims: []string{"N", "T"}},
		{Name: "half", Type: "float16", Shape: []int64{2}, Dims: []string{""}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ParseONNXInputs = %+v; want %+v", got, want)
	}
	if s := got[0].String(); s != "tokens int64[N, 12]" {
		t.Errorf("String() = %q", s)
	}
	for _, bad := range [][]byte{nil, []byte("not onnx at all"), {0x0a, 0xff}} {
		if _, err := ParseONNXInputs(bad); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ParseONNXInputs(%q) = %v; want ErrCorrupt", bad, err)
		}
	}
}

func FuzzParseONNXInputs(f *testing.F) {
	f.Add(onnxModel(f))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ins, err := ParseONNXInputs(data)
		if err != nil {
			return
		}
		for _, in := range ins {
			if len(in.Shape) != len(in.Dims) {
				t.Fatalf("input %q: %d dims, %d names", in.Name, len(in.Shape), len(in.Dims))
			}
			_ = in.String()
		}
	})
}
