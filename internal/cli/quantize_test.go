package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
)

const (
	fmnistTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"
	fmnistTest  = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
)

func needFashion(t *testing.T) {
	t.Helper()
	if _, err := os.Stat(fmnistTrain); err != nil {
		testenv.Missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist (make setup does)")
	}
}

// TestQuantizeCommand quantizes the embedded model on Fashion-MNIST
// training images and checks the model, its card and its report, then
// extracts with the int8 model both ways: from the file (--onnx) and by
// --precision int8, which quantizes into the cache once and reuses it.
func TestQuantizeCommand(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	needFashion(t)
	plugins := testenv.BuildPlugin(t, "resnet")
	testenv.BuildPlugin(t, "onnx")
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	t.Setenv("GOZOO_CACHE", t.TempDir())
	dir := t.TempDir()
	out := filepath.Join(dir, "fmnist.int8.onnx")
	_, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "quantize", "--offline", "--calibrate", fmnistTrain,
		"--calibrate-images", "60", "--layers", "avgpool,fc", "--method", "percentile", "--percentile", "99.99", "--threads", "2", "--out", out)
	if err != nil {
		t.Fatalf("quantize: %v\n%s", err, stderr)
	}
	t.Logf("quantize:\n%s", stderr)
	card, err := zoo.ReadCard(out)
	if err != nil || card == nil {
		t.Fatalf("ReadCard(%s) = %v, %v", out, card, err)
	}
	c := card.Calibration
	if card.Precision != zoo.PrecisionInt8 || c == nil || c.Method != "percentile" || c.Percentile != 99.99 || c.Images != 48 ||
		len(c.ListSHA256) != 64 || card.Arch != "onnx" || len(card.Classes) != 10 || !card.Preprocess.Grayscale || card.Layer != "avgpool" {
		t.Errorf("card = %+v, calibration %+v; want int8, percentile 99.99 on 48 images, the model's classes, transform and layer", card, c)
	}
	var rep QuantizeReport
	b, err := os.ReadFile(filepath.Join(dir, "fmnist.int8.quantize.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Layers) != 2 || rep.HeldOut != 12 || rep.SizeInt8*3 > rep.SizeFP32 || rep.RuntimeOps["QLinearConv"] != 20 || len(rep.FloatOps) != 0 {
		t.Errorf("report = %s; want 2 layers compared on 12 held-out images, under a third of the size, 20 QLinearConv, no float compute", b)
	}
	for _, l := range rep.Layers {
		if l.Rows != 12 || l.CosineMean < 0.999 {
			t.Errorf("report layer %+v; want 12 rows, cosine >= 0.999", l)
		}
	}
	for _, want := range []string{"LAYER", "avgpool", "QLinearConv 20", "fmnist.int8.gozoo.json"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("quantize's output lacks %q", want)
		}
	}

	// The int8 file through the onnx plugin: the card gives the
	// transform, so IDX images run as the float model's do.
	feats := filepath.Join(dir, "int8.npz")
	_, stderr, err = execute(t, &Factory{}, "--plugin-path", plugins, "extract", "--onnx", out, "--precision", "int8",
		"--shard", "0/100", "--out", feats, fmnistTest)
	if err != nil {
		t.Fatalf("extract --onnx int8: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, "Grayscale(3)") {
		t.Errorf("extract --onnx did not take the card's transform:\n%s", stderr)
	}
	int8 := readLayers(t, feats, "avgpool")["avgpool"]
	_, stderr, err = execute(t, &Factory{}, "--plugin-path", plugins, "extract", "--offline", "--layers", "avgpool",
		"--shard", "0/100", "--out", filepath.Join(dir, "fp32.npz"), fmnistTest)
	if err != nil {
		t.Fatalf("extract fp32: %v\n%s", err, stderr)
	}
	fp32 := readLayers(t, filepath.Join(dir, "fp32.npz"), "avgpool")["avgpool"]
	if !sdk.EqualShape(int8.Shape, fp32.Shape) || int8.Shape[0] != 100 {
		t.Fatalf("int8 avgpool %v, fp32 %v; want [100 64 1 1] both", int8.Shape, fp32.Shape)
	}
	if c := meanCosine(fp32, int8); c < 0.999 {
		t.Errorf("int8 avgpool mean cosine to fp32 on 100 test images %.5f; want >= 0.999", c)
	}

	// A catalog entry may name the int8 model: it runs as it is.
	sum, _, err := zoo.FileSHA256(out)
	if err != nil {
		t.Fatal(err)
	}
	catalog := filepath.Join(dir, "zoo.yaml")
	entry := fmt.Sprintf(`models:
  - name: fmnist.int8
    plugin: onnx
    arch: onnx
    weights: {path: fmnist.int8.onnx, sha256: %s}
    preprocess: {resize: 28, crop: 28, interpolation: bilinear, mean: [0.286, 0.286, 0.286], std: [0.353, 0.353, 0.353], grayscale: true}
    layer: avgpool
    class_set: fashion_mnist
    precision: int8
    calibration: {method: %s, percentile: %g, images: %d, list_sha256: %s, base: %q}
`, sum, c.Method, c.Percentile, c.Images, c.ListSHA256, c.Base)
	if err := os.WriteFile(catalog, []byte(entry), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err = execute(t, &Factory{}, "--plugin-path", plugins, "extract", "--catalog", catalog, "--model", "fmnist.int8",
		"--precision", "int8", "--shard", "0/100", "--out", filepath.Join(dir, "cat.npz"), fmnistTest)
	if err != nil {
		t.Fatalf("extract --model fmnist.int8: %v\n%s", err, stderr)
	}
	if got := readLayers(t, filepath.Join(dir, "cat.npz"), "avgpool")["avgpool"]; maxAbsDiff(got.Float32, int8.Float32) != 0 {
		t.Errorf("the int8 catalog entry's avgpool differs from the int8 file's")
	}
	show, _, err := execute(t, &Factory{}, "zoo", "show", "--catalog", catalog, "fmnist.int8")
	if err != nil || !strings.Contains(show, "precision: int8") || !strings.Contains(show, "list_sha256: "+c.ListSHA256) {
		t.Errorf("zoo show fmnist.int8 = %v:\n%s\nwant its precision and calibration", err, show)
	}

	// --precision int8 quantizes into the cache, then finds it there.
	args := []string{"--plugin-path", plugins, "extract", "--offline", "--precision", "int8", "--calibrate", fmnistTrain,
		"--calibrate-images", "20", "--layers", "avgpool", "--shard", "1/100", "--out", filepath.Join(dir, "p.npz"), fmnistTest}
	_, stderr, err = execute(t, &Factory{}, args...)
	if err != nil {
		t.Fatalf("extract --precision int8: %v\n%s", err, stderr)
	}
	cached, _ := filepath.Glob(filepath.Join(os.Getenv("GOZOO_CACHE"), "quantized", "*.int8.onnx"))
	if len(cached) != 1 || !strings.Contains(stderr, "calibrating on 16 images") {
		t.Errorf("extract --precision int8 left %v in the cache; want one model calibrated on 16 images:\n%s", cached, stderr)
	}
	args[len(args)-2] = filepath.Join(dir, "p2.npz")
	_, stderr, err = execute(t, &Factory{}, args...)
	if err != nil || !strings.Contains(stderr, "made earlier") || strings.Contains(stderr, "calibrating") {
		t.Errorf("second extract --precision int8 = %v; want the cached model, not a new calibration:\n%s", err, stderr)
	}
}

func meanCosine(a, b *sdk.Tensor) float64 {
	rows := int(a.Shape[0])
	per := len(a.Float32) / rows
	sum := 0.0
	for r := 0; r < rows; r++ {
		var ab, aa, bb float64
		for i := r * per; i < (r+1)*per; i++ {
			x, y := float64(a.Float32[i]), float64(b.Float32[i])
			ab, aa, bb = ab+x*y, aa+x*x, bb+y*y
		}
		sum += ab / (math.Sqrt(aa*bb) + 1e-30)
	}
	return sum / float64(rows)
}

// TestQuantizeUsageErrors checks the flag errors that stop quantize,
// extract and serve before anything loads.
func TestQuantizeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain.onnx")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"quantize", "--calibrate", "d", "--out", "m.onnx", "--method", "kl"}, "use minmax, percentile or entropy"},
		{[]string{"quantize", "--out", "m.onnx"}, "--calibrate is required"},
		{[]string{"quantize", "--calibrate", "d"}, "give the .onnx file to write"},
		{[]string{"quantize", "--calibrate", "d", "--out", "m.onnx", "--percentile", "20", "--method", "percentile"}, "above 50"},
		{[]string{"quantize", "--calibrate", "d", "--out", "m.onnx", "--percentile", "99"}, "--percentile is for --method percentile"},
		{[]string{"quantize", "--calibrate", "d", "--out", "m.onnx", "--holdout", "1"}, "--holdout 1"},
		{[]string{"quantize", "--calibrate", "d", "--out", "m.onnx", "--activations", "int4"}, "use uint8 or int8"},
		{[]string{"extract", "--calibrate", "d", "--out", "o.npz", "in.npy"}, "give --precision int8 too"},
		{[]string{"extract", "--precision", "int4", "--out", "o.npz", "in.npy"}, "use fp32 or int8"},
		{[]string{"extract", "--precision", "int8", "--onnx", plain, "--out", "o.npz", "in.npy"}, "is not an int8 model"},
		{[]string{"serve", "--precision", "int8", "--config", "m.yaml"}, "in a --config list"},
		{[]string{"serve", "--keep-fp32", "fc"}, "give --precision int8 too"},
	} {
		_, _, err := execute(t, &Factory{}, tc.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("gozoo %s = %v; want a usage error saying %q", strings.Join(tc.args, " "), err, tc.want)
		}
	}
}

// TestServeInt8 serves the embedded model quantized (serve --precision
// int8) and checks that an image's features equal extract's from the
// same int8 model.
func TestServeInt8(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	needFashion(t)
	plugins := testenv.BuildPlugin(t, "resnet")
	testenv.BuildPlugin(t, "onnx")
	bin := gozoo(t)
	dir := t.TempDir()
	cache := t.TempDir()
	env := []string{"GOZOO_PLUGIN_PATH=" + plugins, "GOZOO_CACHE=" + cache, "GOZOO_ORT_LIB=" + ort.LibraryPath()}
	os.Mkdir(filepath.Join(dir, "imgs"), 0o755)
	writeImage(t, filepath.Join(dir, "imgs", "a.jpg"), 45, 38, 7)
	jpg, err := os.ReadFile(filepath.Join(dir, "imgs", "a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	_, httpAddr, _, log, _ := startServe(t, bin, dir, env, "--offline", "--precision", "int8", "--calibrate", fmnistTrain,
		"--calibrate-images", "24", "--outputs", "avgpool,fc", "--threads", "1")
	t.Logf("gozoo serve:\n%s", log.String())
	got := inferHTTP(t, "http://"+httpAddr+"/v2/models/"+zoo.DefaultModel+"/infer", "image", "BYTES", []int64{1}, nil, [][]byte{jpg}, false)
	models, _ := filepath.Glob(filepath.Join(cache, "quantized", "*.int8.onnx"))
	if len(models) != 1 {
		t.Fatalf("serve --precision int8 left %v in the cache; want one int8 model", models)
	}
	cmd := exec.Command(bin, "extract", "--onnx", models[0], "--layers", "avgpool,fc", "--threads", "1", "--out", "ref.npz", "imgs")
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("extract: %v\n%s", err, out)
	}
	compare(t, "serve --precision int8", got, readLayers(t, filepath.Join(dir, "ref.npz"), "avgpool", "fc"))
}
