package inception

import (
	"context"
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

// fixtureArgs are make_parity.py's arguments for arch at h x w, with or
// without aux heads.
func fixtureArgs(arch string, h, w int, aux, transform bool, layers []string, extra ...string) []string {
	return append([]string{arch, "--height", strconv.Itoa(h), "--width", strconv.Itoa(w),
		"--aux-logits", b2i(aux), "--transform-input", b2i(transform), "--layers", strings.Join(layers, ",")}, extra...)
}

// makeFixture runs make_parity.py for arch with or without aux heads.
func makeFixture(t *testing.T, arch string, h, w int, aux, transform bool, layers []string, extra ...string) *sdktest.Fixture {
	t.Helper()
	return sdktest.MakeFixture(t, "testdata/make_parity.py", fixtureArgs(arch, h, w, aux, transform, layers, extra...)...)
}

func b2i(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// parityCases covers both networks with aux heads on and off,
// transform_input on and off, at several input sizes.
var parityCases = []struct {
	arch           string
	h, w           int
	aux, transform bool
	layers         []string
	short          bool
}{
	{"inception_v3", 299, 299, true, false, v3Layers, true},
	{"inception_v3", 299, 299, false, true, v3Layers[:len(v3Layers)-3], false},
	{"inception_v3", 160, 200, false, false, v3Layers[:len(v3Layers)-3], false},
	{"inception_v3", 75, 75, true, true, v3Layers[:len(v3Layers)-3], false}, // aux head needs a larger input
	{"googlenet", 224, 224, true, true, v1Layers, true},
	{"googlenet", 224, 224, false, false, v1Layers[:len(v1Layers)-4], false},
	{"googlenet", 96, 128, true, false, v1Layers, false},
}

var (
	v3Layers = []string{"Conv2d_1a_3x3.conv", "Conv2d_2b_3x3.bn", "Conv2d_2b_3x3", "maxpool2", "Mixed_5b.branch5x5_2",
		"Mixed_6a", "Mixed_6e.branch7x7dbl_3.conv", "Mixed_6e.branch7x7dbl_3", "Mixed_6e", "Mixed_7b.branch3x3dbl_3b",
		"Mixed_7c", "avgpool", "dropout", "fc",
		"AuxLogits.conv0", "AuxLogits.conv1.bn", "AuxLogits.fc"}
	v1Layers = []string{"conv1.conv", "conv1", "maxpool1", "conv3.bn", "inception3a.branch2.1", "inception3b",
		"inception4a.branch4.0", "inception4d.branch3.1.conv", "inception4e", "maxpool4", "inception5b",
		"avgpool", "dropout", "fc",
		"aux1.conv", "aux1.fc1", "aux2.dropout", "aux2.fc2"}
)

// TestParity compares each configuration's layers with torchvision's
// forward hooks on the same weights and input (sdktest.Fixture.Check:
// 1e-4 scaled, and for inception_v3 at 299x299 with its aux head no
// further from a float64 run than PyTorch float32), and the layers and
// params with torchvision's named_modules and named_parameters.
// num_classes and aux_logits come from the checkpoint.
func TestParity(t *testing.T) {
	needORT(t)
	for i, c := range parityCases {
		name := fmt.Sprintf("%s/%dx%d/aux=%v/transform=%v", c.arch, c.h, c.w, c.aux, c.transform)
		t.Run(name, func(t *testing.T) {
			if testing.Short() && !c.short {
				t.Skip("-short runs one configuration per network")
			}
			extra := []string{"--num-classes", "100"}
			if i == 0 {
				extra = append(extra, "--float64")
			}
			f := makeFixture(t, c.arch, c.h, c.w, c.aux, c.transform, c.layers, extra...)
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: c.arch, WeightsPath: f.Weights(), Threads: 2,
				Options: map[string]string{"transform_input": fmt.Sprint(c.transform)}})
			if err != nil {
				t.Fatalf("Load(%s): %v", c.arch, err)
			}
			defer m.Close()
			f.Check(t, m, c.layers)
			var skip []string
			if c.arch == "inception_v3" && c.aux && c.h < 299 {
				// The aux head needs a larger input: torch has its
				// modules but cannot run them; Layers leaves them out.
				skip = []string{"AuxLogits", "AuxLogits.conv0", "AuxLogits.conv0.conv", "AuxLogits.conv0.bn",
					"AuxLogits.conv1", "AuxLogits.conv1.conv", "AuxLogits.conv1.bn", "AuxLogits.fc"}
			}
			f.CheckCoverage(t, m, skip...)
		})
	}
}
