package torch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/cli"
	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

// gozoo runs the gozoo CLI in-process with the given plugin folders and
// returns its standard error.
func gozoo(t *testing.T, dirs []string, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	f := &cli.Factory{Out: &out, Err: &errb}
	cmd := cli.NewRootCmd(f)
	cmd.SetArgs(append([]string{"--plugin-path", strings.Join(dirs, ",")}, args...))
	err := cmd.ExecuteContext(context.Background())
	if cerr := f.Close(); cerr != nil {
		t.Errorf("Factory.Close: %v", cerr)
	}
	return errb.String(), err
}

func readMetrics(t *testing.T, dir string) *cli.FinetuneResult {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "metrics.json"))
	if err != nil {
		t.Fatal(err)
	}
	var r cli.FinetuneResult
	if err := json.Unmarshal(data, &r); err != nil {
		t.Fatal(err)
	}
	return &r
}

func argmax(row []float32) int {
	best := 0
	for i, v := range row {
		if v > row[best] {
			best = i
		}
	}
	return best
}

// TestFinetuneFashionMNIST fine-tunes a ResNet-18 on real images
// (Fashion-MNIST at 32x32) with everything frozen but layer4 and fc, and
// checks the freeze contract, that it beats a linear probe, and that the
// saved checkpoint serves from the Go resnet plugin with PyTorch's
// predictions.
func TestFinetuneFashionMNIST(t *testing.T) {
	if testing.Short() {
		t.Skip("trains for about a minute")
	}
	testenv.ORT(t, ort.LibraryPath())
	const epochs = "2"
	tmp := t.TempDir()
	data := filepath.Join(tmp, "fmnist")
	writeFashion(t, data, 2000, 500)
	weights := filepath.Join(tmp, "resnet18.pth")
	testenv.RunPython(t, "testdata/make_weights.py", "resnet18", weights, "0")
	dirs := []string{pluginDir(t), testenv.BuildPlugin(t, "resnet")}

	common := []string{"finetune", "--arch", "resnet18", "--weights", weights, "--data", data,
		"--input-size", "32", "--augment", "none", "--batch-size", "50", "--epochs", epochs, "--lr", "0.05", "--seed", "1", "--freeze", "*"}
	ftOut, probeOut := filepath.Join(tmp, "ft"), filepath.Join(tmp, "probe")
	log, err := gozoo(t, dirs, append(common, "--unfreeze", "layer4.*,fc.*", "--out", ftOut)...)
	if err != nil {
		t.Fatalf("gozoo finetune: %v\n%s", err, log)
	}
	t.Logf("fine-tune layer4+fc:\n%s", log)
	log, err = gozoo(t, dirs, append(common, "--unfreeze", "fc.*", "--out", probeOut)...)
	if err != nil {
		t.Fatalf("gozoo finetune (linear probe): %v\n%s", err, log)
	}
	t.Logf("linear probe:\n%s", log)

	ft, probe := readMetrics(t, ftOut), readMetrics(t, probeOut)
	ftAcc, probeAcc := ft.Epochs[len(ft.Epochs)-1].ValAcc, probe.Epochs[len(probe.Epochs)-1].ValAcc
	t.Logf("validation accuracy: layer4+fc %.4f, linear probe %.4f", ftAcc, probeAcc)
	if !(ftAcc > probeAcc) {
		t.Errorf("fine-tuning layer4+fc reached %.4f validation accuracy; want more than the linear probe's %.4f", ftAcc, probeAcc)
	}

	// The freeze contract, read back from the files without Python.
	before, err := bridge.Load(weights)
	if err != nil {
		t.Fatal(err)
	}
	after, err := bridge.Load(ft.Checkpoint)
	if err != nil {
		t.Fatal(err)
	}
	var frozen, changed int
	for name, a := range after.Tensors {
		b := before.Tensors[name]
		unfrozen := strings.HasPrefix(name, "layer4.") || strings.HasPrefix(name, "fc.")
		switch {
		case strings.HasPrefix(name, "fc."):
			// a new 10-class head
		case !unfrozen:
			if !sameBits(a, b) {
				t.Errorf("frozen %s changed in training", name)
			}
			frozen++
		case strings.HasSuffix(name, ".weight") || strings.HasSuffix(name, ".bias"):
			if sameBits(a, b) {
				t.Errorf("unfrozen %s did not change in training", name)
			}
			changed++
		}
	}
	t.Logf("%d frozen tensors (parameters and batch-norm statistics) bit-identical, %d unfrozen parameters changed", frozen, changed)

	// The checkpoint in the Go resnet plugin and in PyTorch: the same
	// prediction on every validation image.
	// The same preprocessing as gozoo finetune --input-size 32.
	valSet, err := dataset.OpenKind(filepath.Join(data, "val"), "imagefolder")
	if err != nil {
		t.Fatal(err)
	}
	tf := imageproc.Transform{ResizeSize: 32, CropH: 32, CropW: 32, Interp: imageproc.Bilinear,
		Mean: imageproc.ImageNetMean, Std: imageproc.ImageNetStd}
	valInput, valLabels, err := dataset.Tensor(context.Background(), valSet, tf, 2)
	if err != nil {
		t.Fatal(err)
	}
	c, err := host.New(host.WithPluginPath(dirs...))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	logits := map[string]*sdk.Tensor{}
	for _, plugin := range []string{"resnet", "torch"} {
		bb, err := c.Backbone(context.Background(), plugin)
		if err != nil {
			t.Fatal(err)
		}
		m, err := bb.Load(context.Background(), &sdk.LoadRequest{Arch: "resnet18", WeightsPath: ft.Checkpoint, Options: map[string]string{"num_classes": "10"}})
		if err != nil {
			t.Fatalf("%s: Load(%s) = %v", plugin, ft.Checkpoint, err)
		}
		res, err := host.ExtractBatches(context.Background(), m, &sdk.ExtractRequest{Layers: []string{"fc"}, Input: valInput}, 100, nil)
		if err != nil {
			t.Fatalf("%s: Extract(fc) = %v", plugin, err)
		}
		logits[plugin] = res.Outputs["fc"]
		m.Close()
	}
	goL, pyL := logits["resnet"], logits["torch"]
	var agree, correct int
	var maxDiff, scale float64
	n := len(valLabels)
	for i := 0; i < n; i++ {
		g, p := goL.Float32[i*10:(i+1)*10], pyL.Float32[i*10:(i+1)*10]
		for j := range g {
			maxDiff = math.Max(maxDiff, math.Abs(float64(g[j]-p[j])))
			scale = math.Max(scale, math.Abs(float64(p[j])))
		}
		if argmax(g) == argmax(p) {
			agree++
		} else {
			t.Errorf("image %s: Go predicts class %d, PyTorch %d", valSet.Samples[i].Path, argmax(g), argmax(p))
		}
		if int64(argmax(p)) == valLabels[i] {
			correct++
		}
	}
	t.Logf("Go resnet plugin vs PyTorch on %d validation images: %d agree; logits max abs diff %.3g (max |logit| %.3g); accuracy %.4f",
		n, agree, maxDiff, scale, float64(correct)/float64(n))
	if got := float64(correct) / float64(n); math.Abs(got-ftAcc) > 1e-9 {
		t.Errorf("accuracy from the served checkpoint %.4f; want the training run's validation accuracy %.4f", got, ftAcc)
	}
}

// sameBits reports whether two tensors hold bit-identical elements.
func sameBits(a, b *sdk.Tensor) bool {
	if a == nil || b == nil || !sdk.EqualShape(a.Shape, b.Shape) || len(a.Float32) != len(b.Float32) || len(a.Int64) != len(b.Int64) {
		return false
	}
	for i := range a.Float32 {
		if math.Float32bits(a.Float32[i]) != math.Float32bits(b.Float32[i]) {
			return false
		}
	}
	for i := range a.Int64 {
		if a.Int64[i] != b.Int64[i] {
			return false
		}
	}
	return true
}
