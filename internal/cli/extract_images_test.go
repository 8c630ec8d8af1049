package cli

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
)

// writeImage writes a w x h image with smooth random content as PNG or
// JPEG (by the extension).
func writeImage(t testing.TB, path string, w, h int, seed int64) {
	t.Helper()
	rng := rand.New(rand.NewSource(seed))
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	a, b := rng.Float64()*6, rng.Float64()*6
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			v := func(p float64) uint8 {
				return uint8(127 + 120*math.Sin(p+a*float64(x)/float64(w)+b*float64(y)/float64(h)))
			}
			img.Set(x, y, color.RGBA{v(0), v(2), v(4), 255})
		}
	}
	var buf bytes.Buffer
	var err error
	if strings.HasSuffix(path, ".jpg") {
		err = jpeg.Encode(&buf, img, &jpeg.Options{Quality: 90})
	} else {
		err = png.Encode(&buf, img)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// hugePNGHeader is a PNG whose IHDR says 20000x20000 (and no pixel data).
func hugePNGHeader() []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], 20000)
	binary.BigEndian.PutUint32(ihdr[4:], 20000)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	binary.Write(&b, binary.BigEndian, uint32(len(ihdr)))
	chunk := append([]byte("IHDR"), ihdr...)
	b.Write(chunk)
	binary.Write(&b, binary.BigEndian, crc32.ChecksumIEEE(chunk))
	return b.Bytes()
}

// smallModel is a fast resnet18 (base width 8) on 32x32 crops.
var smallModel = []string{"--arch", "resnet18", "--opt", "width=8", "--resize", "36", "--crop", "32", "--layers", "avgpool"}

func TestExtractImagesBadFiles(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	good := func(t *testing.T) string {
		dir := t.TempDir()
		writeImage(t, filepath.Join(dir, "a.png"), 40, 30, 1)
		writeImage(t, filepath.Join(dir, "c.jpg"), 33, 47, 2)
		writeImage(t, filepath.Join(dir, "d.png"), 64, 64, 3)
		return dir
	}
	var jpg bytes.Buffer
	jpeg.Encode(&jpg, image.NewGray(image.Rect(0, 0, 64, 64)), nil)
	onePx := func() []byte {
		var b bytes.Buffer
		png.Encode(&b, image.NewRGBA(image.Rect(0, 0, 1, 1)))
		return b.Bytes()
	}()
	for _, tc := range []struct {
		name, file string
		data       []byte
		why        string
	}{
		{"truncated jpeg", "b.jpg", jpg.Bytes()[:jpg.Len()/2], "corrupt image"},
		{"text named jpg", "b.jpg", []byte("this is not an image\n"), "not a supported image"},
		{"zero bytes", "b.png", nil, "empty file"},
		{"1x1", "b.png", onePx, "too small"},
		{"20000x20000 header", "b.png", hugePNGHeader(), "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := good(t)
			bad := filepath.Join(dir, tc.file)
			if err := os.WriteFile(bad, tc.data, 0o644); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "f.npz")
			args := append([]string{"--plugin-path", plugins, "extract"}, smallModel...)
			args = append(args, "--batch-size", "2", "--out", out)

			// fail: the error names the file; the row before it is kept.
			_, stderr, err := execute(t, &Factory{}, append(args, "--on-error", "fail", dir)...)
			if err == nil || !strings.Contains(err.Error(), bad) || !strings.Contains(err.Error(), tc.why) {
				t.Fatalf("--on-error fail: err = %v; want it to name %s and say %q\n%s", err, bad, tc.why, stderr)
			}
			if _, err := os.Stat(out); err == nil {
				t.Fatalf("%s exists after a failed run", out)
			}
			// skip: a rerun resumes after a.png and records the bad file.
			_, stderr, err = execute(t, &Factory{}, append(args, "--on-error", "skip", dir)...)
			if err != nil {
				t.Fatalf("--on-error skip: %v\n%s", err, stderr)
			}
			if !strings.Contains(stderr, "resuming") || !strings.Contains(stderr, bad) {
				t.Errorf("rerun stderr = %q; want it to resume and name the skipped %s", stderr, bad)
			}
			feats := readLayers(t, out, "avgpool")
			if got := feats["avgpool"].Shape; got[0] != 3 || got[1] != 64 {
				t.Errorf("avgpool shape %v; want [3 64 1 1]", got)
			}
			checkIndex(t, out, []string{"a.png", "c.jpg", "d.png"}, []string{tc.file})
		})
	}
}

// checkIndex reads the path arrays of an npz with numpy.
func checkIndex(t *testing.T, out string, paths, skipped []string) {
	t.Helper()
	py := testenv.Python(t)
	b, err := exec.Command(py, "-c", `import json, sys, numpy as np
z = np.load(sys.argv[1])
print(json.dumps({"path": [str(p) for p in z["path"]], "label": z["label"].tolist(),
  "skipped": [str(p) for p in z["skipped_path"]] if "skipped_path" in z.files else []}))`, out).CombinedOutput()
	if err != nil {
		t.Fatalf("numpy cannot read %s: %v\n%s", out, err, b)
	}
	var got struct {
		Path, Skipped []string
		Label         []int64
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	base := func(ps []string) string {
		var s []string
		for _, p := range ps {
			s = append(s, filepath.Base(p))
		}
		return strings.Join(s, ",")
	}
	if base(got.Path) != strings.Join(paths, ",") || base(got.Skipped) != strings.Join(skipped, ",") {
		t.Errorf("index paths %v skipped %v; want %v and %v", got.Path, got.Skipped, paths, skipped)
	}
	for _, l := range got.Label {
		if l != -1 {
			t.Errorf("labels %v; want -1 for a plain folder", got.Label)
			break
		}
	}
}

// TestExtractImagesMatchesTorchvision runs real photos through gozoo
// extract and through torchvision's transforms + resnet50 on the same
// (seeded random) weights: avgpool features must agree to cosine 0.9999.
func TestExtractImagesMatchesTorchvision(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	testenv.Python(t)
	plugins := testenv.BuildPlugin(t, "resnet")
	dir := t.TempDir()
	testenv.RunPython(t, "../../zoo/imageproc/testdata/make_conformance.py", dir, "--resnet50")
	var meta struct{ Images []string }
	b, _ := os.ReadFile(filepath.Join(dir, "meta.json"))
	json.Unmarshal(b, &meta)
	for _, interp := range []string{"bilinear", "bicubic"} {
		out := filepath.Join(t.TempDir(), "f.safetensors")
		_, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "extract", "--arch", "resnet50",
			"--weights", filepath.Join(dir, "resnet50.pth"), "--layers", "avgpool", "--interpolation", interp,
			"--batch-size", "4", "--out", out, dir)
		if err != nil {
			t.Fatalf("extract: %v\n%s", err, stderr)
		}
		got, paths := readFeatures(t, out, "avgpool")
		want := readRaw(t, filepath.Join(dir, "avgpool."+interp+".bin"))
		row := map[string]int{}
		for i, p := range paths {
			row[filepath.Base(p)] = i
		}
		worst := 1.0
		for j, name := range meta.Images {
			i, ok := row[name]
			if !ok {
				t.Fatalf("%s missing from the output", name)
			}
			c := cosine(got[i*2048:(i+1)*2048], want[j*2048:(j+1)*2048])
			worst = math.Min(worst, c)
			if c < 0.9999 {
				t.Errorf("%s %s: cosine(gozoo, torchvision) = %.6f; want >= 0.9999", interp, name, c)
			}
		}
		t.Logf("%s: %d photos, min cosine(gozoo avgpool, torchvision avgpool) = %.7f", interp, len(meta.Images), worst)
	}
}

// readFeatures reads a layer and the paths from a .safetensors output.
func readFeatures(t *testing.T, path, layer string) ([]float32, []string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var h map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &h); err != nil {
		t.Fatal(err)
	}
	var e struct {
		Offsets [2]int64 `json:"data_offsets"`
	}
	json.Unmarshal(h[layer], &e)
	var md map[string]string
	json.Unmarshal(h["__metadata__"], &md)
	var paths []string
	json.Unmarshal([]byte(md["paths"]), &paths)
	data := b[8+n+uint64(e.Offsets[0]) : 8+n+uint64(e.Offsets[1])]
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out, paths
}

func readRaw(t *testing.T, path string) []float32 {
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

func cosine(a, b []float32) float64 {
	var ab, aa, bb float64
	for i := range a {
		ab += float64(a[i]) * float64(b[i])
		aa += float64(a[i]) * float64(a[i])
		bb += float64(b[i]) * float64(b[i])
	}
	return ab / math.Sqrt(aa*bb)
}

// TestExtractResumeAfterKill kills a gozoo extract process halfway and
// runs it again: the rerun continues after the committed rows and the
// result equals an uninterrupted run.
func TestExtractResumeAfterKill(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	bin := filepath.Join(t.TempDir(), "gozoo")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/gozoo/gozoo/cmd/gozoo").CombinedOutput(); err != nil {
		t.Fatalf("go build gozoo: %v\n%s", err, out)
	}
	dir := t.TempDir()
	for i := 0; i < 40; i++ {
		writeImage(t, filepath.Join(dir, string(rune('a'+i/10))+string(rune('0'+i%10))+".png"), 120+i, 90+i, int64(i))
	}
	args := []string{"--plugin-path", plugins, "extract", "--arch", "resnet18", "--layers", "avgpool,fc", "--batch-size", "2", "--threads", "1"}
	out := filepath.Join(t.TempDir(), "f.npz")
	cmd := exec.Command(bin, append(args, "--out", out, dir)...)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if _, err := os.Stat(filepath.Join(out+".partial", "chunk-000003.json")); err == nil {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatal("no chunk written in 2 minutes")
		}
		time.Sleep(20 * time.Millisecond)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	if _, err := os.Stat(out); err == nil {
		t.Skip("the run finished before it could be killed")
	}
	_, stderr, err := execute(t, &Factory{}, append(args, "--out", out, dir)...)
	if err != nil {
		t.Fatalf("rerun: %v\n%s", err, stderr)
	}
	var done, total int
	if i := strings.Index(stderr, "resuming"); i < 0 {
		t.Fatalf("rerun did not resume:\n%s", stderr)
	} else if _, err := fmtSscanf(stderr[i:], &done, &total); err != nil || done < 8 || done >= 40 || total != 40 {
		t.Fatalf("rerun resumed at %d of %d (%v); want 8 <= done < 40 of 40:\n%s", done, total, err, stderr)
	}
	t.Logf("killed after %d of %d images; the rerun computed the remaining %d", done, total, total-done)

	ref := filepath.Join(t.TempDir(), "ref.npz")
	if _, stderr, err := execute(t, &Factory{}, append(args, "--out", ref, dir)...); err != nil {
		t.Fatalf("reference run: %v\n%s", err, stderr)
	}
	got := readLayers(t, out, "avgpool", "fc")
	want := readLayers(t, ref, "avgpool", "fc")
	for _, l := range []string{"avgpool", "fc"} {
		if !sameShape(got[l].Shape, want[l].Shape) || maxAbsDiff(got[l].Float32, want[l].Float32) > 1e-5 {
			t.Errorf("%s: resumed output %v differs from an uninterrupted run %v", l, got[l].Shape, want[l].Shape)
		}
	}
	if _, err := os.Stat(out + ".partial"); err == nil {
		t.Errorf("%s.partial left after a finished run", out)
	}
}

func sameShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func fmtSscanf(s string, done, total *int) (int, error) {
	var out string
	return fmt.Sscanf(s, "resuming %s %d of %d", &out, done, total)
}

// readLayers reads float32 layer arrays from an .npz output (which also
// holds unicode path arrays that internal/npy does not read).
func readLayers(t *testing.T, path string, layers ...string) map[string]*sdk.Tensor {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	out := map[string]*sdk.Tensor{}
	for _, f := range z.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if !slices.Contains(layers, name) {
			continue
		}
		r, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		x, err := npy.Read(r)
		r.Close()
		if err != nil {
			t.Fatalf("%s: %s: %v", path, f.Name, err)
		}
		out[name] = x
	}
	for _, l := range layers {
		if out[l] == nil {
			t.Fatalf("%s has no array %q", path, l)
		}
	}
	return out
}

// TestEmbeddedModelAccuracy runs the embedded default model over the
// Fashion-MNIST test split (IDX) through the plugin and checks the
// accuracy the catalog records.
func TestEmbeddedModelAccuracy(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	idx := "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
	if _, err := os.Stat(idx); err != nil {
		testenv.Missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist (make setup does)")
	}
	plugins := testenv.BuildPlugin(t, "resnet")
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath()) // the ONNX Runtime library stays where it is
	t.Setenv("GOZOO_CACHE", t.TempDir())         // an empty weights cache: the embedded model unpacks offline
	out := filepath.Join(t.TempDir(), "f.safetensors")
	_, stderr, err := execute(t, &Factory{}, "--plugin-path", plugins, "extract", "--offline", "--layers", "fc",
		"--batch-size", "250", "--out", out, idx)
	if err != nil {
		t.Fatalf("extract: %v\n%s", err, stderr)
	}
	if !strings.Contains(stderr, zoo.DefaultModel) {
		t.Errorf("stderr does not say the default model is used:\n%s", stderr)
	}
	logits, _ := readFeatures(t, out, "fc")
	labels := readLabels(t, out)
	if len(labels) != 10000 || len(logits) != 10*len(labels) {
		t.Fatalf("%d labels, %d logits; want 10000 and 100000", len(labels), len(logits))
	}
	correct := 0
	for i, l := range labels {
		best := 0
		for c := 1; c < 10; c++ {
			if logits[10*i+c] > logits[10*i+best] {
				best = c
			}
		}
		if int64(best) == l {
			correct++
		}
	}
	acc := float64(correct) / float64(len(labels))
	cat, _ := zoo.Default()
	e, _ := cat.Lookup(zoo.DefaultModel)
	want := e.Metrics["fashion_mnist_test_accuracy"]
	t.Logf("%s: Fashion-MNIST test accuracy from Go %.4f; recorded from PyTorch %.4f", e.Name, acc, want)
	if math.Abs(acc-want) > 0.002 {
		t.Errorf("accuracy %.4f; the catalog records %.4f", acc, want)
	}
}

func readLabels(t *testing.T, path string) []int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := binary.LittleEndian.Uint64(b)
	var h map[string]json.RawMessage
	json.Unmarshal(b[8:8+n], &h)
	var e struct {
		Offsets [2]int64 `json:"data_offsets"`
	}
	json.Unmarshal(h["label"], &e)
	data := b[8+n+uint64(e.Offsets[0]) : 8+n+uint64(e.Offsets[1])]
	out := make([]int64, len(data)/8)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(data[8*i:]))
	}
	return out
}
