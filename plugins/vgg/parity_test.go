package vgg

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// fixtureArgs are make_parity.py's arguments for arch at h x w.
func fixtureArgs(arch string, h, w int, layers []string, extra ...string) []string {
	return append([]string{arch, "--height", strconv.Itoa(h), "--width", strconv.Itoa(w),
		"--layers", strings.Join(layers, ",")}, extra...)
}

// makeFixture runs make_parity.py for arch.
func makeFixture(t *testing.T, arch string, h, w int, layers []string, extra ...string) *sdktest.Fixture {
	t.Helper()
	return sdktest.MakeFixture(t, "testdata/make_parity.py", fixtureArgs(arch, h, w, layers, extra...)...)
}

// parityCases covers every arch at several input sizes: 224 (avgpool a
// plain 1x1 window), and sizes whose features map is 1x1, 2x2, 3x3 or
// 3x4, where AdaptiveAvgPool2d((7, 7)) uses overlapping windows. vgg11
// runs one model at two sizes, whose avgpool and classifier graphs differ.
var parityCases = []struct {
	arch  string
	sizes [][2]int
	short bool
}{
	{"vgg11", [][2]int{{224, 224}, {64, 80}}, true},
	{"vgg11_bn", [][2]int{{64, 80}}, false},
	{"vgg13", [][2]int{{96, 128}}, false},
	{"vgg13_bn", [][2]int{{48, 48}}, false},
	{"vgg16", [][2]int{{64, 80}}, false},
	{"vgg16_bn", [][2]int{{112, 112}}, true},
	{"vgg19", [][2]int{{80, 64}}, false},
	{"vgg19_bn", [][2]int{{64, 96}}, false},
}

// parityLayers picks, for a, the first conv, a BatchNorm (or ReLU) in the
// middle, the last conv and the last pool of features, and the rest of
// the network down to classifier.
func parityLayers(a arch) []string {
	var convs []int
	i := 0
	for _, v := range a.cfg {
		if v == pool {
			i++
			continue
		}
		convs = append(convs, i)
		i += 2
		if a.bn {
			i++
		}
	}
	mid := convs[len(convs)/2] + 1 // its BatchNorm2d, or its ReLU
	last := convs[len(convs)-1]
	return []string{"features.0", "features." + strconv.Itoa(mid), "features." + strconv.Itoa(last),
		"features." + strconv.Itoa(i-1), "features", "avgpool", "classifier.0", "classifier.4", "classifier.6", "classifier"}
}

// TestParity compares every arch's layers with torchvision's forward
// hooks on the same weights and input (sdktest.Fixture.Check: 1e-4
// scaled, and for vgg19_bn no further from a float64 run than PyTorch
// float32), and the layers and params with torchvision's named_modules
// and named_parameters. num_classes comes from the checkpoint.
func TestParity(t *testing.T) {
	needORT(t)
	for _, c := range parityCases {
		t.Run(c.arch, func(t *testing.T) {
			if testing.Short() && !c.short {
				t.Skip("-short runs vgg11 and vgg16_bn only")
			}
			i := 0
			for i < len(archs) && archs[i].name != c.arch {
				i++
			}
			layers := parityLayers(archs[i])
			extra := []string{"--num-classes", "100"}
			if c.arch == "vgg19_bn" {
				extra = append(extra, "--float64")
			}
			var cases [][]string
			for _, size := range c.sizes {
				cases = append(cases, fixtureArgs(c.arch, size[0], size[1], layers, extra...))
			}
			// Same arch, seed and num_classes: the same weights.
			fs := sdktest.MakeFixtures(t, "testdata/make_parity.py", cases)
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: c.arch, WeightsPath: fs[0].Weights(), Threads: 2})
			if err != nil {
				t.Fatalf("Load(%s): %v", c.arch, err)
			}
			defer m.Close()
			for _, f := range fs {
				f.Check(t, m, layers)
				f.CheckCoverage(t, m)
			}
		})
	}
}

// TestLoadMismatch checks the errors for a checkpoint of another arch and
// for a num_classes that contradicts it, and that num_classes is read from
// the checkpoint when not given.
func TestLoadMismatch(t *testing.T) {
	f := makeFixture(t, "vgg11_bn", 32, 32, []string{"features.0"}, "--num-classes", "10")
	tests := []struct {
		arch    string
		options map[string]string
		want    []string
		ok      bool
	}{
		{"vgg11", map[string]string{"num_classes": "10"}, []string{"unexpected", "looks like vgg11_bn"}, false},
		{"vgg13_bn", map[string]string{"num_classes": "10"}, []string{"missing", "looks like vgg11_bn"}, false},
		{"vgg11_bn", map[string]string{"num_classes": "1000"}, []string{"num_classes=1000 but the checkpoint has 10"}, false},
		{"vgg11_bn", map[string]string{"num_classes": "10"}, nil, true},
		// The checkpoint's shapes set num_classes when it is not given.
		{"vgg11_bn", nil, nil, true},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.arch, tc.options), func(t *testing.T) {
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.options, WeightsPath: f.Weights()})
			if tc.ok {
				if err != nil {
					t.Fatalf("Load = %v; want success", err)
				}
				defer m.Close()
				ls, err := m.Layers(context.Background(), nil)
				i := slices.IndexFunc(ls, func(l sdk.Layer) bool { return l.Name == "classifier" })
				if err != nil || i < 0 || !sdk.EqualShape(ls[i].Shape, []int64{-1, 10}) {
					t.Errorf("Layers = %v, %v; want classifier [-1, 10]", ls, err)
				}
				return
			}
			if err == nil {
				m.Close()
				t.Fatalf("Load(%s with vgg11_bn weights) succeeded; want an error", tc.arch)
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
