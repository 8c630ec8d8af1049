package quant_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/onnxpb"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/resnet"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/quant"
	"github.com/gozoo/gozoo/sdk/sdktest"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) {
	if _, err := ort.Version(); err != nil && os.Getenv("GOZOO_REQUIRE_ALL") != "1" {
		// Examples cannot skip, so the whole package does.
		fmt.Printf("SKIP sdk/quant: %v\n", err)
		os.Exit(0)
	}
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

func needORT(t *testing.T) {
	t.Helper()
	testenv.ORT(t, ort.LibraryPath())
}

// export loads a resnet in this process and exports layers as ONNX.
func export(t *testing.T, req *sdk.LoadRequest, layers ...string) []byte {
	t.Helper()
	ctx := context.Background()
	m, err := resnet.New().Load(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	path := filepath.Join(t.TempDir(), "model.onnx")
	if _, err := m.(sdk.Exporter).Export(ctx, &sdk.ExportRequest{Path: path, Format: sdk.FormatONNX, Layers: layers}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// run runs model on x and returns every graph output.
func run(t *testing.T, model []byte, x *sdk.Tensor) map[string]*sdk.Tensor {
	t.Helper()
	s, err := ort.NewSession(model, ort.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Run(context.Background(), map[string]*sdk.Tensor{s.InputNames()[0]: x}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// opCount counts a model's nodes of one operator type.
func opCount(t *testing.T, model []byte, op string) int {
	t.Helper()
	mp := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(model, mp); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, nd := range mp.GetGraph().GetNode() {
		if nd.GetOpType() == op {
			n++
		}
	}
	return n
}

// noise returns n seeded standard-normal images.
func noise(n, h, w int64, seed int64) *sdk.Tensor {
	x := sdk.Zeros(n, 3, h, w)
	rng := rand.New(rand.NewSource(seed))
	for i := range x.Float32 {
		x.Float32[i] = float32(rng.NormFloat64())
	}
	return x
}

// cosine is the mean over rows of the cosine similarity of a and b.
func cosine(a, b *sdk.Tensor) float64 {
	rows := a.Shape[0]
	per := int64(len(a.Float32)) / rows
	sum := 0.0
	for r := int64(0); r < rows; r++ {
		var ab, aa, bb float64
		for i := r * per; i < (r+1)*per; i++ {
			x, y := float64(a.Float32[i]), float64(b.Float32[i])
			ab += x * y
			aa += x * x
			bb += y * y
		}
		sum += ab / math.Sqrt(aa*bb)
	}
	return sum / float64(rows)
}

// TestResNet18 checks batch-norm folding and quantization on a
// torchvision ResNet-18 with seeded weights and realistic batch-norm
// statistics, against PyTorch.
func TestResNet18(t *testing.T) {
	needORT(t)
	f := sdktest.MakeFixture(t, "testdata/make_parity.py")
	t.Run("FoldBatchNorm", func(t *testing.T) { testFoldBatchNorm(t, f) })
	t.Run("Quantize", func(t *testing.T) { testQuantize(t, f) })
}

// testFoldBatchNorm checks the folded graph against PyTorch's eval-mode
// forward pass (seeded weights, realistic batch-norm statistics), and
// that a batch norm whose convolution's output is a requested layer stays.
func testFoldBatchNorm(t *testing.T, f *sdktest.Fixture) {
	req := &sdk.LoadRequest{Arch: "resnet18", WeightsPath: f.Weights(), Threads: 1}
	layers := []string{"layer1.0.bn1", "layer2", "layer4", "avgpool", "fc"}
	model := export(t, req, layers...)
	folded, err := quant.FoldBatchNorm(model)
	if err != nil {
		t.Fatal(err)
	}
	if n := opCount(t, model, "BatchNormalization"); n != 20 {
		t.Fatalf("exported resnet18 has %d batch norms; want 20", n)
	}
	if n := opCount(t, folded, "BatchNormalization"); n != 0 {
		t.Errorf("FoldBatchNorm left %d batch norms; want 0", n)
	}
	out := run(t, folded, f.InputTensor(t, 0))
	for _, l := range layers {
		d, scale := sdktest.MaxDiff(out[l].Float32, f.Tensor(t, l).Float32)
		t.Logf("%-14s max diff %.2g (scale %.3g)", l, d, scale)
		if d > 1e-4*scale {
			t.Errorf("folded %s differs from PyTorch by %g (scale %g); want <= 1e-4 scaled", l, d, scale)
		}
	}
	// The convolution's own output requested: its batch norm stays.
	kept, err := quant.FoldBatchNorm(export(t, req, "layer1.0.conv1", "fc"))
	if err != nil {
		t.Fatal(err)
	}
	if n := opCount(t, kept, "BatchNormalization"); n != 1 {
		t.Errorf("with layer1.0.conv1 requested, %d batch norms stay; want 1 (layer1.0.bn1)", n)
	}
	out = run(t, kept, f.InputTensor(t, 0))
	if d, scale := sdktest.MaxDiff(out["layer1.0.conv1"].Float32, f.Tensor(t, "layer1.0.conv1").Float32); d > 1e-4*scale {
		t.Errorf("layer1.0.conv1 differs from PyTorch by %g (scale %g)", d, scale)
	}
}

// testQuantize quantizes a ResNet-18 (seeded weights, realistic batch-norm
// statistics) with each calibration method and checks its outputs
// against PyTorch's float32 forward pass, and that ONNX Runtime runs every
// convolution, add, pool and the classifier as integer kernels.
func testQuantize(t *testing.T, f *sdktest.Fixture) {
	layers := []string{"layer2", "avgpool", "fc"}
	model := export(t, &sdk.LoadRequest{Arch: "resnet18", WeightsPath: f.Weights(), Threads: 1}, layers...)
	var calib []*sdk.Tensor
	for i := int64(0); i < 4; i++ {
		calib = append(calib, noise(4, 64, 80, 10+i))
	}
	for _, method := range quant.Methods {
		t.Run(string(method), func(t *testing.T) {
			q, err := quant.Prepare(model, quant.Options{Method: method, Session: []ort.Option{ort.WithThreads(1)}})
			if err != nil {
				t.Fatal(err)
			}
			if s := q.Summary(); s.Folded != 20 || s.Quantized["Conv"] != 20 || s.Quantized["Add"] != 8 || s.Quantized["Gemm"] != 1 {
				t.Errorf("Summary() = %+v; want 20 batch norms folded, 20 Conv, 8 Add and 1 Gemm quantized", s)
			}
			if err := q.Calibrate(context.Background(), calib); err != nil {
				t.Fatal(err)
			}
			int8, err := q.Model()
			if err != nil {
				t.Fatal(err)
			}
			out := run(t, int8, f.InputTensor(t, 0))
			for _, l := range layers {
				c := cosine(out[l], f.Tensor(t, l))
				t.Logf("%-8s cosine to PyTorch %.5f", l, c)
				if c < 0.995 {
					t.Errorf("%s: int8 %s has cosine %.5f to PyTorch's float32; want >= 0.995", method, l, c)
				}
			}
			if method != quant.MinMax {
				return
			}
			ops, err := quant.RuntimeOps(int8, t.TempDir(), ort.WithThreads(1))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("ONNX Runtime runs: %s", quant.FormatOps(ops))
			for op, want := range map[string]int{"QLinearConv": 20, "QLinearAdd": 8, "QLinearGlobalAveragePool": 1, "QGemm": 1,
				"Conv": 0, "FusedConv": 0, "Gemm": 0, "Add": 0, "BatchNormalization": 0} {
				if ops[op] != want {
					t.Errorf("ONNX Runtime runs %d %s; want %d (all ops: %s)", ops[op], op, want, quant.FormatOps(ops))
				}
			}
			if len(int8) > len(model)/3 {
				t.Errorf("quantized model has %d bytes, the float one %d; want about a quarter", len(int8), len(model))
			}
		})
	}
}

// TestKeepFP32 checks that modules kept by pattern run in float, and that
// a pattern matching nothing is an error naming close modules.
func TestKeepFP32(t *testing.T) {
	needORT(t)
	model := export(t, &sdk.LoadRequest{Arch: "resnet18", Seed: 3, Threads: 1, Options: map[string]string{"width": "8"}}, "avgpool", "fc")
	q, err := quant.Prepare(model, quant.Options{KeepFP32: []string{"fc", "layer4.1.*", "layer1.0.bn2"}, Session: []ort.Option{ort.WithThreads(1)}})
	if err != nil {
		t.Fatal(err)
	}
	kept := strings.Join(q.Summary().Kept, " ")
	for _, n := range []string{"fc", "layer4.1.conv1", "layer4.1.conv2", "layer4.1/Add", "layer1.0.conv2"} {
		if !strings.Contains(kept, n) {
			t.Errorf("Summary().Kept = %s; want %s among them", kept, n)
		}
	}
	if err := q.Calibrate(context.Background(), []*sdk.Tensor{noise(4, 32, 32, 1)}); err != nil {
		t.Fatal(err)
	}
	int8, err := q.Model()
	if err != nil {
		t.Fatal(err)
	}
	ops, err := quant.RuntimeOps(int8, t.TempDir(), ort.WithThreads(1))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ONNX Runtime runs: %s", quant.FormatOps(ops))
	if ops["QLinearConv"] != 17 || ops["QGemm"] != 0 || ops["Gemm"] != 1 {
		t.Errorf("ONNX Runtime runs %s; want 17 QLinearConv (3 convolutions kept float) and a float Gemm", quant.FormatOps(ops))
	}
	_, err = quant.Prepare(model, quant.Options{KeepFP32: []string{"layer4.9.*"}})
	if !errors.Is(err, sdk.ErrNoMatch) || !strings.Contains(err.Error(), "did you mean") {
		t.Errorf("Prepare(keep layer4.9.*) = %v; want ErrNoMatch with suggestions", err)
	}
	if _, err := quant.Prepare(model, quant.Options{Method: "kl"}); !errors.Is(err, sdk.ErrBadOption) {
		t.Errorf("Prepare(method kl) = %v; want ErrBadOption", err)
	}
	if _, err := quant.Prepare([]byte("not onnx"), quant.Options{}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Prepare(garbage) = %v; want ErrBadInput", err)
	}
}
