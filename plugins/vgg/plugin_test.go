package vgg

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

// TestPluginConformance runs the conformance suite against the built
// gozoo-backbone-vgg binary.
func TestPluginConformance(t *testing.T) {
	needORT(t)
	bin := filepath.Join(testenv.BuildPlugin(t, "vgg"), "gozoo-backbone-vgg")
	sdktest.Run(t, sdktest.Start(t, bin), sdktest.WithArch("vgg11_bn"), sdktest.WithInputShape(-1, 3, 48, 40),
		sdktest.WithLayers("features.0", "features.14", "avgpool"))
}

// childPID finds the process started from the binary named exe whose
// parent is this test process.
func childPID(t *testing.T, exe string) int {
	t.Helper()
	dirs, _ := filepath.Glob("/proc/[0-9]*")
	for _, d := range dirs {
		pid, err := strconv.Atoi(filepath.Base(d))
		if err != nil {
			continue
		}
		if path, err := os.Readlink(filepath.Join(d, "exe")); err != nil || filepath.Base(path) != exe {
			continue
		}
		if statusField(t, pid, "PPid") == fmt.Sprint(os.Getpid()) {
			return pid
		}
	}
	t.Fatalf("no child process runs %s", exe)
	return 0
}

// statusField returns a field of /proc/PID/status ("VmHWM" gives
// "123456 kB").
func statusField(t *testing.T, pid int, field string) string {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("read process status: %v", err)
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), field+":"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("/proc/%d/status has no %s", pid, field)
	return ""
}

// TestPeakRSS loads vgg16 weights saved by PyTorch (528 MB) into the
// plugin process, extracts avgpool features of batches of 224x224 images,
// and checks the plugin's peak resident memory (VmHWM) stays under twice
// the weights.
func TestPeakRSS(t *testing.T) {
	if testing.Short() {
		t.Skip("-short skips the vgg16 memory measurement")
	}
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("needs /proc to read the plugin's peak RSS")
	}
	testenv.Python(t)
	needORT(t)
	path := makeFixture(t, "vgg16", 32, 32, []string{"features.0"}).Weights()
	var weights int64
	for _, s := range sdktest.NewNet(t, Family, "vgg16", nil).Build(defaultInput.Shape).Specs() {
		weights += 4 * sdk.NumElements(s.Shape)
	}

	dir := testenv.BuildPlugin(t, "vgg")
	c, err := host.New(host.WithPluginPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	bb, err := c.Backbone(ctx, "vgg")
	if err != nil {
		t.Fatal(err)
	}
	pid := childPID(t, "gozoo-backbone-vgg")
	base := statusField(t, pid, "VmHWM")
	m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "vgg16", WeightsPath: path, Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	afterLoad := statusField(t, pid, "VmHWM")
	x := sdk.Zeros(8, 3, 224, 224)
	for i := range x.Float32 {
		x.Float32[i] = float32(i%255)/255 - 0.5
	}
	for range 3 {
		out, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"avgpool"}, Input: x})
		if err != nil {
			t.Fatal(err)
		}
		if got := out.Outputs["avgpool"]; !sdk.EqualShape(got.Shape, []int64{8, 512, 7, 7}) {
			t.Fatalf("avgpool shape %v", got.Shape)
		}
	}
	peak := statusField(t, pid, "VmHWM")
	kb, err := strconv.ParseInt(strings.TrimSuffix(peak, " kB"), 10, 64)
	if err != nil {
		t.Fatalf("VmHWM %q: %v", peak, err)
	}
	ratio := float64(kb*1024) / float64(weights)
	t.Logf("vgg16 weights %.1f MB (.pth %s); plugin VmHWM: started %s, after Load %s, after 3 avgpool extracts of [8, 3, 224, 224] %s = %.2fx the weights",
		float64(weights)/1e6, fileSize(path), base, afterLoad, peak, ratio)
	if ratio >= 2 {
		t.Errorf("plugin peak RSS %s is %.2fx the %d bytes of weights; want under 2x", peak, ratio, weights)
	}
}

func fileSize(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.1f MB", float64(st.Size())/1e6)
}
