package imageproc_test

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

type conformance struct {
	dir    string
	Images []string `json:"images"`
	Interp []string `json:"interpolations"`
}

var (
	confOnce sync.Once
	confDir  string
)

// fixture runs make_conformance.py once per test binary (with the resnet50
// when withResNet) into a shared temporary folder.
func fixture(t *testing.T, withResNet bool) *conformance {
	t.Helper()
	testenv.Python(t)
	if _, err := os.Stat("/usr/lib/python3/dist-packages/skimage"); err != nil {
		if out, err := testenvImportSkimage(); err != nil {
			testenv.Missing(t, "scikit-image photos", "apt-get install python3-skimage (make setup does): "+out)
		}
	}
	confOnce.Do(func() {
		d, err := os.MkdirTemp("", "gozoo-imageproc-")
		if err != nil {
			t.Fatal(err)
		}
		confDir = d
		testenv.RunPython(t, "testdata/make_conformance.py", d, "--resnet50")
	})
	c := &conformance{dir: confDir}
	b, err := os.ReadFile(filepath.Join(confDir, "meta.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestMain(m *testing.M) {
	code := m.Run()
	if confDir != "" {
		os.RemoveAll(confDir)
	}
	os.Exit(code)
}

func readF32(t *testing.T, path string) []float32 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}

// TestConformance compares the Go pipeline with torchvision's on real
// photos and variants: after Normalize, per image and interpolation, the
// mean absolute difference must be <= 0.005 and the max <= 0.05.
func TestConformance(t *testing.T) {
	c := fixture(t, true)
	for _, in := range c.Interp {
		interp, err := imageproc.ParseInterpolation(in)
		if err != nil {
			t.Fatal(err)
		}
		tf := imageproc.ImageNet()
		tf.Interp = interp
		for _, name := range c.Images {
			t.Run(in+"/"+name, func(t *testing.T) {
				want := readF32(t, filepath.Join(c.dir, name+"."+in+".bin"))
				got := make([]float32, tf.Len())
				if err := tf.Load(filepath.Join(c.dir, name), got); err != nil {
					t.Fatal(err)
				}
				mean, mx := diff(got, want)
				t.Logf("%-16s %-8s mean |ours - torchvision| %.5f  max %.4f", name, in, mean, mx)
				if mean > 0.005 || mx > 0.05 {
					t.Errorf("Load(%q) with %s: mean diff %.5f (want <= 0.005), max %.4f (want <= 0.05)", name, in, mean, mx)
				}
			})
		}
	}
}

func diff(a, b []float32) (mean, mx float64) {
	for i := range a {
		d := math.Abs(float64(a[i]) - float64(b[i]))
		mean += d
		mx = math.Max(mx, d)
	}
	return mean / float64(len(a)), mx
}
