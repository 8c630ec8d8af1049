package gan

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
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

// fixture describes one discriminator make_parity.py builds.
type fixture struct {
	size, ndf int
	sn        string // "", "hook" or "parametrizations"
	noBN      bool
	bias      bool
}

func (c fixture) arch() string {
	if c.sn != "" {
		return archSNDCGAN
	}
	return archDCGAN
}

func (c fixture) String() string {
	s := fmt.Sprintf("%s/%d/ndf%d", c.arch(), c.size, c.ndf)
	if c.sn != "" {
		s += "/" + c.sn
	}
	if c.noBN {
		s += "/no_bn"
	}
	if c.bias {
		s += "/bias"
	}
	return s
}

// make runs make_parity.py for c, every module hooked, with a float64
// run.
func (c fixture) make(t *testing.T) *sdktest.Fixture {
	t.Helper()
	args := []string{"--image-size", strconv.Itoa(c.size), "--ndf", strconv.Itoa(c.ndf), "--float64"}
	if c.sn != "" {
		args = append(args, "--sn", c.sn)
	}
	if c.noBN {
		args = append(args, "--no-batch-norm")
	}
	if c.bias {
		args = append(args, "--bias")
	}
	return sdktest.MakeFixture(t, "testdata/make_parity.py", args...)
}

// parametrizationModules lists the modules torch's parametrizations add
// to each conv: they output weights, not features, and are not layers.
func parametrizationModules(f *sdktest.Fixture) []string {
	var skip []string
	for _, m := range f.Modules {
		if strings.Contains(m[0], ".parametrizations") {
			skip = append(skip, m[0])
		}
	}
	return skip
}

// TestParity compares every layer of each discriminator with torch's
// forward hooks on the same weights and input (sdktest.Fixture.Check:
// 1e-4 scaled, and no further from a float64 run than PyTorch float32),
// loading with no options: the checkpoint sets them all. At 64x64 the
// torch module is the DCGAN tutorial's own class. It also compares the
// layers and params with torch's named_modules and named_parameters and
// checks the default layer.
func TestParity(t *testing.T) {
	needORT(t)
	cases := []struct {
		fixture
		short bool
	}{
		{fixture{size: 64, ndf: 64}, true},
		{fixture{size: 128, ndf: 32}, false},
		{fixture{size: 32, ndf: 16}, false},
		{fixture{size: 256, ndf: 4}, false},
		{fixture{size: 64, ndf: 32, sn: "hook"}, true},
		{fixture{size: 64, ndf: 64, sn: "parametrizations"}, true},
		{fixture{size: 128, ndf: 16, sn: "hook", noBN: true, bias: true}, false},
		{fixture{size: 128, ndf: 32, sn: "parametrizations"}, false},
		{fixture{size: 256, ndf: 4, sn: "parametrizations", noBN: true}, false},
	}
	for _, c := range cases {
		t.Run(c.String(), func(t *testing.T) {
			if testing.Short() && !c.short {
				t.Skip("-short runs the 64x64 discriminators only")
			}
			t.Parallel()
			f := c.make(t)
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: c.arch(), WeightsPath: f.Weights(), Threads: 1})
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			defer m.Close()
			layers := slices.Sorted(maps.Keys(f.Outputs))
			f.Check(t, m, layers)
			f.CheckCoverage(t, m, parametrizationModules(f)...)

			// The default layer is the last block's LeakyReLU.
			out, err := m.Extract(context.Background(), &sdk.ExtractRequest{Input: f.InputTensor(t, 0)})
			if err != nil {
				t.Fatal(err)
			}
			d := fixture{size: c.size, noBN: c.noBN}
			want := fmt.Sprintf("main.%d", disc{imageSize: int64(c.size), batchNorm: !c.noBN}.relu(d.blocks()-1))
			got, ok := out.Outputs[want]
			if !ok || len(out.Outputs) != 1 {
				t.Fatalf("Extract() = %v; want %s", slices.Sorted(maps.Keys(out.Outputs)), want)
			}
			if ref := f.Tensor(t, want); !sdk.EqualShape(got.Shape, ref.Shape) || ref.Shape[1] != int64(c.ndf<<(d.blocks()-1)) || ref.Shape[2] != 4 {
				t.Errorf("default layer %s shape %v; torch %v, want [N, ndf*2^(blocks-1), 4, 4]", want, got.Shape, ref.Shape)
			}
		})
	}
}

// blocks is the number of stride-2 blocks of c's image size.
func (c fixture) blocks() int { return disc{imageSize: int64(c.size)}.blocks() }

// writeCheckpoint writes sd as a safetensors file in t's temp dir.
func writeCheckpoint(t *testing.T, name string, sd map[string]*sdk.Tensor) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name+".safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	keys := slices.Sorted(maps.Keys(sd))
	if err := bridge.WriteSafetensors(f, &bridge.StateDict{Tensors: sd, Keys: keys}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// load reads a fixture's state_dict.
func load(t *testing.T, f *sdktest.Fixture) map[string]*sdk.Tensor {
	t.Helper()
	sd, err := bridge.Load(f.Weights())
	if err != nil {
		t.Fatal(err)
	}
	return sd.Tensors
}

// edit returns a copy of sd changed by f.
func edit(sd map[string]*sdk.Tensor, f func(map[string]*sdk.Tensor)) map[string]*sdk.Tensor {
	c := maps.Clone(sd)
	f(c)
	return c
}

// TestLoadMismatch checks that options the checkpoint contradicts are
// errors naming both values, that a checkpoint of another kind or with a
// wrong key set is refused with an error that says what to do, and that
// prefixed keys load with strip_prefix.
func TestLoadMismatch(t *testing.T) {
	t.Parallel()
	plain := fixture{size: 64, ndf: 16}.make(t)
	hook := fixture{size: 32, ndf: 8, sn: "hook"}.make(t)
	param := fixture{size: 32, ndf: 8, sn: "parametrizations"}.make(t)
	sd := load(t, plain)
	hookSD := load(t, hook)

	conv1 := sd["main.2.weight"]
	wrongShape := *conv1
	wrongShape.Shape = []int64{conv1.Shape[0] / 2, conv1.Shape[1], 4, 8}
	prefixed := map[string]*sdk.Tensor{}
	for k, v := range sd {
		prefixed["netD."+k] = v
	}
	legacy := edit(hookSD, func(m map[string]*sdk.Tensor) {
		m["main.0.weight"] = m["main.0.weight_orig"]
		delete(m, "main.0.weight_v")
	})
	mixed := edit(hookSD, func(m map[string]*sdk.Tensor) {
		m["main.2.weight"] = m["main.2.weight_orig"]
		delete(m, "main.2.weight_orig")
		delete(m, "main.2.weight_u")
		delete(m, "main.2.weight_v")
	})
	gap := edit(sd, func(m map[string]*sdk.Tensor) { delete(m, "main.5.weight") })

	tests := []struct {
		name    string
		arch    string
		path    string
		options map[string]string
		want    []string
	}{
		{"ndf", archDCGAN, plain.Weights(), map[string]string{"ndf": "32"}, []string{"ndf=32 but the checkpoint has 16"}},
		{"image_size", archDCGAN, plain.Weights(), map[string]string{"image_size": "128"}, []string{"image_size=128 but the checkpoint has 64"}},
		{"nc and ndf", archDCGAN, plain.Weights(), map[string]string{"nc": "1", "ndf": "64"}, []string{"nc=1 but the checkpoint has 3", "ndf=64 but the checkpoint has 16"}},
		{"batch_norm", archDCGAN, plain.Weights(), map[string]string{"batch_norm": "false"}, []string{"batch_norm=false but the checkpoint has true"}},
		{"spectral_norm", archSNDCGAN, param.Weights(), map[string]string{"spectral_norm": "hook"}, []string{"spectral_norm=hook but the checkpoint has parametrizations"}},
		{"plain as sn", archSNDCGAN, plain.Weights(), nil, []string{"plain conv weights", "load it with arch dcgan_discriminator"}},
		{"sn as plain", archDCGAN, hook.Weights(), nil, []string{"spectral-norm weights (main.0.weight_orig)", "load it with arch sn_dcgan_discriminator"}},
		{"another model", archDCGAN, writeCheckpoint(t, "resnet", map[string]*sdk.Tensor{"conv1.weight": sd["main.0.weight"], "fc.weight": sdk.Zeros(10, 4)}),
			nil, []string{"no main.0 conv weight", "2 keys (conv1.weight, fc.weight)", "not a DCGAN discriminator's state_dict"}},
		{"prefix", archDCGAN, writeCheckpoint(t, "prefixed", prefixed), nil, []string{`keys start with "netD."`, "strip_prefix=netD."}},
		{"missing key", archDCGAN, writeCheckpoint(t, "missing", edit(sd, func(m map[string]*sdk.Tensor) { delete(m, "main.6.running_var") })),
			nil, []string{"main.6.running_var", "dcgan_discriminator with image_size=64, ndf=16, nc=3 has convs main.0, main.2, main.5, main.8, main.11 of 16, 32, 64, 128, 1 channels"}},
		{"extra key", archDCGAN, writeCheckpoint(t, "extra", edit(sd, func(m map[string]*sdk.Tensor) { m["fc.weight"] = sdk.Zeros(1, 4) })),
			nil, []string{"fc.weight"}},
		{"wrong shape", archDCGAN, writeCheckpoint(t, "shape", edit(sd, func(m map[string]*sdk.Tensor) { m["main.2.weight"] = &wrongShape })),
			nil, []string{"main.2.weight: checkpoint has [16, 16, 4, 8], model has [32, 16, 4, 4]"}},
		{"too few convs", archDCGAN, writeCheckpoint(t, "shallow", edit(sd, func(m map[string]*sdk.Tensor) {
			delete(m, "main.8.weight")
			delete(m, "main.11.weight")
		})), nil, []string{"has 3 convolutions under main (main.0.weight, main.2.weight, main.5.weight)", "has 4 to 7"}},
		{"gap", archDCGAN, writeCheckpoint(t, "gap", gap), map[string]string{"image_size": "32"}, []string{"main.5.weight", "main.8.weight"}},
		{"legacy spectral norm", archSNDCGAN, writeCheckpoint(t, "legacy", legacy), nil, []string{"main.0.weight next to main.0.weight_orig", "before torch 1.1", "save its state_dict again"}},
		{"mixed layouts", archSNDCGAN, writeCheckpoint(t, "mixed", mixed), nil, []string{"mix weight layouts", "hook (main.0.weight_orig, main.5.weight_orig, main.8.weight_orig) and plain (main.2.weight)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.options, WeightsPath: tc.path})
			if err == nil {
				m.Close()
				t.Fatalf("Load(%s, %v) succeeded; want an error", tc.arch, tc.options)
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

	// The checkpoint sets what the options leave out, and options that
	// agree with it are fine. The spectral-norm fixtures at 32x32 are
	// also checked against torch here, every layer.
	for _, tc := range []struct {
		arch    string
		path    string
		options map[string]string
		parity  *sdktest.Fixture
	}{
		{archDCGAN, plain.Weights(), map[string]string{"ndf": "16", "image_size": "64"}, nil},
		{archDCGAN, writeCheckpoint(t, "prefixed", prefixed), map[string]string{bridge.PrefixOption: "netD."}, nil},
		{archSNDCGAN, hook.Weights(), nil, hook},
		{archSNDCGAN, param.Weights(), map[string]string{"spectral_norm": "parametrizations", "image_size": "32"}, param},
	} {
		m, err := New().Load(context.Background(), &sdk.LoadRequest{Arch: tc.arch, Options: tc.options, WeightsPath: tc.path, Threads: 1})
		if err != nil {
			t.Errorf("Load(%s, %v) = %v; want success", tc.arch, tc.options, err)
			continue
		}
		if f := tc.parity; f != nil {
			needORT(t)
			f.Check(t, m, slices.Sorted(maps.Keys(f.Outputs)))
			f.CheckCoverage(t, m, parametrizationModules(f)...)
		}
		m.Close()
	}
}
