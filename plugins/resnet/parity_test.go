package resnet

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// needORT skips (or fails in CI) when the ONNX Runtime library is absent.
func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}

// makeFixture runs make_parity.py for arch.
func makeFixture(t *testing.T, arch string, h, w int, layers []string, extra ...string) *sdktest.Fixture {
	t.Helper()
	args := append([]string{arch, "--height", strconv.Itoa(h), "--width", strconv.Itoa(w),
		"--layers", strings.Join(layers, ",")}, extra...)
	return sdktest.MakeFixture(t, "testdata/make_parity.py", args...)
}

// parityCases covers every arch, at a non-square input, from the stem to
// fc, including a block's inner conv and its (last-call) relu.
var parityCases = []struct {
	arch   string
	h, w   int
	block3 int // a block of layer3 to probe
	short  bool
}{
	{"resnet18", 160, 192, 1, true},
	{"resnet34", 160, 192, 5, false},
	{"resnet50", 160, 192, 5, true},
	{"resnet101", 160, 192, 22, false},
	{"resnet152", 160, 192, 35, false},
	{"resnext50_32x4d", 160, 192, 3, false},
	{"resnext101_32x8d", 128, 160, 11, false},
	{"wide_resnet50_2", 128, 160, 2, false},
	{"wide_resnet101_2", 128, 160, 17, false},
}

// TestParity compares every arch's layers with torchvision's forward
// hooks on the same weights and input (sdktest.Fixture.Check: 1e-4
// scaled, and for the deepest nets no further from a float64 run than
// PyTorch float32), and the layers and params with torchvision's
// named_modules and named_parameters.
func TestParity(t *testing.T) {
	needORT(t)
	for _, c := range parityCases {
		t.Run(c.arch, func(t *testing.T) {
			if testing.Short() && !c.short {
				t.Skip("-short runs resnet18 and resnet50 only")
			}
			blk := "layer3." + strconv.Itoa(c.block3)
			layers := []string{"conv1", "bn1", "maxpool", "layer1", "layer2.0.downsample.0", "layer2.0.downsample",
				blk + ".conv2", blk + ".relu", blk, "layer3", "layer4", "avgpool", "fc"}
			var extra []string
			if c.block3 > 20 {
				extra = append(extra, "--float64")
			}
			f := makeFixture(t, c.arch, c.h, c.w, layers, extra...)
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: c.arch, WeightsPath: f.Weights(), Threads: 2})
			if err != nil {
				t.Fatalf("Load(%s): %v", c.arch, err)
			}
			defer m.Close()
			f.Check(t, m, layers)
			f.CheckCoverage(t, m)
		})
	}
}

// TestLoadMismatch checks the errors for a checkpoint of another arch and
// for a num_classes that contradicts it, and that num_classes is read from
// the checkpoint when not given.
func TestLoadMismatch(t *testing.T) {
	testenv.Python(t)
	f := makeFixture(t, "resnet18", 64, 64, []string{"fc"}, "--num-classes", "10")
	path := f.Weights()
	tests := []struct {
		arch    string
		options map[string]string
		want    []string
		ok      bool
	}{
		{"resnet50", map[string]string{"num_classes": "10"}, []string{"missing", "another ResNet variant"}, false},
		{"resnet18", map[string]string{"num_classes": "1000"}, []string{"num_classes=1000 but the checkpoint has 10"}, false},
		{"resnet18", map[string]string{"num_classes": "10"}, nil, true},
		// The checkpoint's shapes set num_classes when it is not given.
		{"resnet18", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.arch, tc.options), func(t *testing.T) {
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.options, WeightsPath: path})
			if tc.ok {
				if err != nil {
					t.Fatalf("Load = %v; want success", err)
				}
				m.Close()
				return
			}
			if err == nil {
				m.Close()
				t.Fatalf("Load(%s with resnet18 weights) succeeded; want an error", tc.arch)
			}
			if !errors.Is(err, sdk.ErrWeights) {
				t.Errorf("Load error %v does not match sdk.ErrWeights", err)
			}
			for _, s := range tc.want {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Load error %q lacks %q", err, s)
				}
			}
		})
	}
}
