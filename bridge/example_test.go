package bridge_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"log"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
)

// A state_dict written as safetensors reads back unchanged, keys in order.
func ExampleWriteSafetensors() {
	sd := &bridge.StateDict{
		Keys: []string{"fc.weight", "fc.bias", "bn.num_batches_tracked"},
		Tensors: map[string]*sdk.Tensor{
			"fc.weight":              {Shape: []int64{2, 3}, Float32: []float32{1, 2, 3, 4, 5, 6}},
			"fc.bias":                {Shape: []int64{2}, Float32: []float32{0.5, -0.5}},
			"bn.num_batches_tracked": {Shape: []int64{}, Int64: []int64{100}},
		},
		Metadata: map[string]string{"format": "pt"},
	}
	var buf bytes.Buffer
	if err := bridge.WriteSafetensors(&buf, sd); err != nil {
		log.Fatal(err)
	}
	back, err := bridge.ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range back.Keys {
		t := back.Tensors[k]
		fmt.Println(k, t.DType(), sdk.FormatShape(t.Shape))
	}
	fmt.Println(back.Tensors["fc.weight"].Float32, back.Metadata["format"])
	// Output:
	// fc.weight float32 [2, 3]
	// fc.bias float32 [2]
	// bn.num_batches_tracked int64 []
	// [1 2 3 4 5 6] pt
}

// Match reports every difference between a checkpoint and a model at once.
func ExampleStateDict_Match() {
	sd := &bridge.StateDict{
		Keys: []string{"module.fc.weight", "module.fc.bias", "module.aux.weight"},
		Tensors: map[string]*sdk.Tensor{
			"module.fc.weight":  sdk.Zeros(10, 512),
			"module.fc.bias":    sdk.Zeros(10),
			"module.aux.weight": sdk.Zeros(3),
		},
	}
	model := []bridge.Spec{
		{Name: "fc.weight", Shape: []int64{1000, 512}},
		{Name: "fc.bias", Shape: []int64{1000}},
	}
	err := sd.Match(model, bridge.StripPrefix("module."), bridge.IgnoreKeys("aux.*"))
	fmt.Println(errors.Is(err, sdk.ErrWeights))
	fmt.Println(err)
	// Output:
	// true
	// checkpoint does not fit the model; size mismatch for fc.weight: checkpoint has [10, 512], model has [1000, 512]; size mismatch for fc.bias: checkpoint has [10], model has [1000]; only the classifier differs: does num_classes differ from the checkpoint's?
}

// Load recognises the format by its first bytes; here a torch.save zip
// archive with a transposed float32 tensor, an fp16 tensor and an int64
// scalar.
func ExampleLoad() {
	sd, err := bridge.Load("testdata/tiny.pth")
	if err != nil {
		log.Fatal(err)
	}
	for _, k := range sd.Keys {
		t := sd.Tensors[k]
		fmt.Println(k, t.DType(), sdk.FormatShape(t.Shape), t.Float32, t.Int64)
	}
	// Output:
	// w float32 [3, 2] [0 3 1 4 2 5] []
	// h float32 [2] [1.5 -2] []
	// n int64 [] [] [3]
}

// ReadPTH refuses any global outside the tensor allow-list, without
// running it. This pickle calls os.system("x").
func ExampleReadPTH_unsafe() {
	pickle := "\x80\x02cos\nsystem\nX\x01\x00\x00\x00x\x85R."
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("archive/data.pkl")
	w.Write([]byte(pickle))
	zw.Close()
	_, err := bridge.ReadPTH(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	var ue *bridge.UnsafeGlobalError
	fmt.Println(errors.Is(err, bridge.ErrUnsafePickle), errors.As(err, &ue), ue.Module+"."+ue.Name)
	// Output: true true os.system
}
