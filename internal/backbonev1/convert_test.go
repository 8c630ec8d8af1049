package backbonev1

import (
	"reflect"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/protobuf/proto"
)

// wire marshals and unmarshals m, as the network would.
func wire[T proto.Message](t *testing.T, m T) T {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	out := m.ProtoReflect().New().Interface().(T)
	if err := proto.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestRoundTrip(t *testing.T) {
	desc := &sdk.Description{
		Name: "resnet", Version: "1.2.3", ProtocolMinor: 2,
		Archs: []sdk.Arch{{
			Name:    "resnet18",
			Input:   sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32},
			Options: []sdk.OptionSpec{{Name: "num_classes", Default: "1000", Usage: "classes"}, {Name: "path", Usage: "a folder", Path: true}},
			Doc:     "ResNet-18",
		}, {Name: "lstm", Input: sdk.InputSpec{Shape: []int64{-1, -1}, DType: sdk.Int64}},
			{Name: "gru", Input: sdk.InputSpec{Shape: []int64{-1, -1, 8}, DType: sdk.Float32, BatchAxis: 1}}},
		Capabilities: sdk.Capabilities{Extract: true, Train: true, Export: true, Devices: []string{"cpu", "cuda"}, WeightsFormats: []sdk.WeightsFormat{sdk.FormatSafetensors, sdk.FormatONNX}},
	}
	if got := DescriptionFromProto(wire(t, DescriptionToProto(desc))); !reflect.DeepEqual(got, desc) {
		t.Errorf("Description round trip = %+v; want %+v", got, desc)
	}

	for _, f := range []sdk.WeightsFormat{sdk.FormatNone, sdk.FormatPTH, sdk.FormatSafetensors, sdk.FormatONNX} {
		load := &sdk.LoadRequest{Arch: "resnet18", Options: map[string]string{"num_classes": "37"},
			WeightsPath: "/w.pth", WeightsFormat: f, Seed: 42, Device: "cuda:1", Threads: 3}
		p, err := LoadRequestToProto(load)
		if err != nil {
			t.Fatal(err)
		}
		got, err := LoadRequestFromProto(wire(t, p))
		if err != nil || !reflect.DeepEqual(got, load) {
			t.Errorf("LoadRequest(%q) round trip = %+v, %v; want %+v", f, got, err, load)
		}
	}
	in := sdk.InputSpec{Shape: []int64{12, -1, 3}, DType: sdk.Float32, BatchAxis: 1}
	if got := InputSpecFromProto(wire(t, &LoadResponse{Handle: "1", Input: InputSpecToProto(in)}).GetInput()); !reflect.DeepEqual(got, in) {
		t.Errorf("LoadResponse.input round trip = %+v; want %+v", got, in)
	}
	if got := InputSpecFromProto(wire(t, &LoadResponse{Handle: "1"}).GetInput()); !reflect.DeepEqual(got, sdk.InputSpec{}) {
		t.Errorf("LoadResponse without input gives %+v; want the zero InputSpec", got)
	}
	if _, err := LoadRequestToProto(&sdk.LoadRequest{WeightsFormat: "pickle"}); err == nil {
		t.Errorf("LoadRequestToProto(format pickle) = nil error; want ErrBadOption")
	}

	layers := []sdk.Layer{{Name: "layer1.0.conv1", Kind: "Conv2d", Shape: []int64{-1, 64, 56, 56}, Params: 36864}, {Name: "fc", Kind: "Linear", Shape: []int64{-1, 1000}, Params: 513000}}
	if got := LayersFromProto(wire(t, &LayersResponse{Layers: LayersToProto(layers)}).Layers); !reflect.DeepEqual(got, layers) {
		t.Errorf("Layers round trip = %+v; want %+v", got, layers)
	}
	params := []sdk.Param{{Name: "fc.weight", Shape: []int64{1000, 512}, Trainable: true}, {Name: "fc.bias", Shape: []int64{1000}}}
	if got := ParamsFromProto(wire(t, &ParamsResponse{Params: ParamsToProto(params)}).Params); !reflect.DeepEqual(got, params) {
		t.Errorf("Params round trip = %+v; want %+v", got, params)
	}

	train := &sdk.TrainRequest{Optimizer: "adamw", LR: 0.01, BackboneLR: 0.001, WeightDecay: 1e-4, Momentum: 0.9,
		Epochs: 3, Schedule: "cosine", Seed: 7, Device: "cpu", CheckpointDir: "/ck", ResumeFrom: "/ck/2.pth"}
	tc := wire(t, TrainConfigToProto("h1", train))
	if tc.GetHandle() != "h1" {
		t.Errorf("TrainConfig handle = %q; want h1", tc.GetHandle())
	}
	if got := TrainConfigFromProto(tc); !reflect.DeepEqual(got, train) {
		t.Errorf("TrainRequest round trip = %+v; want %+v", got, train)
	}
	ev := &sdk.TrainEvent{Epoch: 1, Step: 20, Loss: 0.5, Accuracy: 0.8, LR: 0.01, ImagesPerSec: 31.5, Validation: true, CheckpointPath: "/ck/1.pth", Message: "ok"}
	if got := TrainEventFromProto(wire(t, TrainEventToProto(ev))); !reflect.DeepEqual(got, ev) {
		t.Errorf("TrainEvent round trip = %+v; want %+v", got, ev)
	}
	ex := &sdk.ExportRequest{Path: "/m.onnx", Format: sdk.FormatONNX, Layers: []string{"layer4"}, Opset: 17}
	pe, err := ExportRequestToProto("h", ex)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := ExportRequestFromProto(wire(t, pe)); err != nil || !reflect.DeepEqual(got, ex) {
		t.Errorf("ExportRequest round trip = %+v, %v; want %+v", got, err, ex)
	}
}

func TestChunks(t *testing.T) {
	tests := []struct {
		name      string
		t         *sdk.Tensor
		chunk     int
		wantParts int
	}{
		{"float one chunk", &sdk.Tensor{Shape: []int64{2, 3}, Float32: []float32{1, -2, 3.5, 4, 5, 6}}, 0, 1},
		{"float split", &sdk.Tensor{Shape: []int64{2, 3}, Float32: []float32{1, -2, 3.5, 4, 5, 6}}, 8, 3},
		{"float uneven", &sdk.Tensor{Shape: []int64{5}, Float32: []float32{1, 2, 3, 4, 5}}, 8, 3},
		{"int64 split", &sdk.Tensor{Shape: []int64{3}, Int64: []int64{-1, 1 << 40, 7}}, 8, 3},
		{"empty", &sdk.Tensor{Shape: []int64{0, 4}, Float32: []float32{}}, 0, 1},
		{"scalar", &sdk.Tensor{Float32: []float32{9}}, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cs, err := Chunks("x", tt.t, tt.chunk)
			if err != nil {
				t.Fatal(err)
			}
			if len(cs) != tt.wantParts {
				t.Errorf("Chunks() gave %d chunks; want %d", len(cs), tt.wantParts)
			}
			var a Assembler
			for i, c := range cs {
				done, err := a.Add(wire(t, c))
				if err != nil {
					t.Fatal(err)
				}
				if done != (i == len(cs)-1) {
					t.Errorf("Add(chunk %d) done = %v", i, done)
				}
			}
			got, err := a.Tensor()
			if err != nil {
				t.Fatal(err)
			}
			if !sdk.EqualShape(got.Shape, tt.t.Shape) || got.DType() != tt.t.DType() || !reflect.DeepEqual(TensorBytes(got), TensorBytes(tt.t)) {
				t.Errorf("reassembled %+v; want %+v", got, tt.t)
			}
		})
	}
}

func TestAssemblerRejects(t *testing.T) {
	x := &sdk.Tensor{Shape: []int64{4}, Float32: []float32{1, 2, 3, 4}}
	cs, _ := Chunks("", x, 8)
	tests := []struct {
		name   string
		chunks []*TensorChunk
	}{
		{"out of order", []*TensorChunk{cs[1]}},
		{"shape changes", []*TensorChunk{cs[0], {Dtype: DType_DTYPE_FLOAT32, Shape: []int64{5}, Offset: 8, Data: cs[1].Data}}},
		{"too much data", []*TensorChunk{cs[0], {Dtype: DType_DTYPE_FLOAT32, Shape: []int64{4}, Offset: 8, Data: make([]byte, 16)}}},
		{"bad dtype", []*TensorChunk{{Shape: []int64{1}, Data: make([]byte, 4)}}},
		{"negative shape", []*TensorChunk{{Dtype: DType_DTYPE_FLOAT32, Shape: []int64{-1}}}},
		{"huge shape", []*TensorChunk{{Dtype: DType_DTYPE_FLOAT32, Shape: []int64{1 << 40, 1 << 40}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a Assembler
			var err error
			for _, c := range tt.chunks {
				if _, err = a.Add(c); err != nil {
					break
				}
			}
			if err == nil {
				_, err = a.Tensor()
			}
			if err == nil {
				t.Fatalf("Add(%s) = nil error; want ErrBadInput", tt.name)
			}
		})
	}
	var a Assembler
	a.Add(cs[0])
	if _, err := a.Tensor(); err == nil {
		t.Errorf("Tensor() of a partial tensor = nil error")
	}
}

func FuzzAssembler(f *testing.F) {
	f.Add(int32(1), int64(2), int64(0), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Add(int32(2), int64(1), int64(0), []byte{1, 2, 3, 4, 5, 6, 7, 8})
	f.Fuzz(func(t *testing.T, dtype int32, n, off int64, data []byte) {
		var a Assembler
		if n > 1<<20 {
			return
		}
		c := &TensorChunk{Dtype: DType(dtype), Shape: []int64{n}, Offset: off, Data: data}
		done, err := a.Add(c)
		if err == nil && done {
			if _, err := a.Tensor(); err != nil {
				t.Errorf("complete tensor: %v", err)
			}
		}
	})
}

func TestUnknownWeightsFormatStaysListed(t *testing.T) {
	p := &DescribeResponse{Capabilities: &Capabilities{WeightsFormats: []WeightsFormat{WeightsFormat(9)}}}
	d := DescriptionFromProto(wire(t, p))
	if len(d.Capabilities.WeightsFormats) != 1 {
		t.Fatalf("WeightsFormats = %v; want one unknown format", d.Capabilities.WeightsFormats)
	}
	for _, f := range []sdk.WeightsFormat{sdk.FormatPTH, sdk.FormatSafetensors, sdk.FormatONNX} {
		if d.Capabilities.ReadsWeights(f) {
			t.Errorf("ReadsWeights(%q) = true for a plugin announcing only an unknown format", f)
		}
	}
}
