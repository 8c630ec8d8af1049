package zoo

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var sha = strings.Repeat("ab", 32)

// int8Entry is a valid int8 catalog entry; extra lines replace or add
// keys.
func int8Entry(weights, calibration string) string {
	return "models:\n  - name: m.int8\n    plugin: onnx\n    arch: onnx\n" +
		"    weights: " + weights + "\n" +
		"    preprocess: {resize: 28, crop: 28, interpolation: bilinear}\n" +
		"    precision: int8\n" + calibration
}

const goodCalibration = "    calibration: {method: percentile, percentile: 99.99, images: 400, list_sha256: " +
	"abababababababababababababababababababababababababababababababab, base: resnet18_w8.gozoo_fmnist}\n"

func TestCatalogPrecision(t *testing.T) {
	good := int8Entry("{path: m.int8.onnx, sha256: "+sha+"}", goodCalibration)
	c := New()
	if err := c.Merge(strings.NewReader(good), "test.yaml"); err != nil {
		t.Fatalf("Merge(int8 entry) = %v", err)
	}
	e, _ := c.Lookup("m.int8")
	if e.Calibration.Images != 400 || e.Weights.FormatOf() != "onnx" {
		t.Errorf("entry = %+v; want 400 calibration images and onnx weights", e)
	}
	card, err := e.Card()
	if err != nil || card.Precision != PrecisionInt8 || card.Calibration.Method != "percentile" {
		t.Errorf("Card() = %+v, %v; want precision int8 and the calibration", card, err)
	}
	for name, tc := range map[string]struct{ text, want string }{
		"no calibration": {int8Entry("{path: m.int8.onnx, sha256: "+sha+"}", ""), "needs calibration"},
		"bad method":     {int8Entry("{path: m.onnx, sha256: "+sha+"}", strings.Replace(goodCalibration, "method: percentile", "method: kl", 1)), "use minmax"},
		"no images":      {int8Entry("{path: m.onnx, sha256: "+sha+"}", strings.Replace(goodCalibration, "images: 400", "images: 0", 1)), "images 0"},
		"bad list":       {int8Entry("{path: m.onnx, sha256: "+sha+"}", strings.Replace(goodCalibration, "list_sha256: abab", "list_sha256: xyab", 1)), "64 hex"},
		"pth weights":    {int8Entry("{path: m.pth, sha256: "+sha+"}", goodCalibration), "quantized .onnx"},
		"precision":      {strings.Replace(good, "precision: int8", "precision: int4", 1), "use fp32 or int8"},
		"fp32 with cal":  {strings.Replace(good, "precision: int8", "precision: fp32", 1), "calibration describes int8"},
		"onnx on resnet": {strings.Replace(strings.Replace(good, "plugin: onnx", "plugin: resnet", 1), "    precision: int8\n"+goodCalibration, "", 1), "run on plugin onnx"},
	} {
		t.Run(name, func(t *testing.T) {
			err := New().Merge(strings.NewReader(tc.text), "test.yaml")
			if !errors.Is(err, ErrBadCatalog) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Merge(%s) = %v; want ErrBadCatalog saying %q", name, err, tc.want)
			}
		})
	}
}

func TestCardPrecision(t *testing.T) {
	w := filepath.Join(t.TempDir(), "m.int8.onnx")
	if err := os.WriteFile(w, []byte("onnx"), 0o644); err != nil {
		t.Fatal(err)
	}
	card := &ModelCard{Arch: "onnx", Plugin: "onnx", Preprocess: ImageNetPreprocess(), Precision: PrecisionInt8,
		Calibration: &Calibration{Method: "minmax", Images: 10, ListSHA256: sha, Base: "resnet18.pth", BaseSHA256: sha}}
	if err := WriteCard(w, card); err != nil {
		t.Fatal(err)
	}
	got, err := ReadCard(w)
	if err != nil || got.Precision != PrecisionInt8 || got.Calibration.ListSHA256 != sha || got.Calibration.Images != 10 {
		t.Fatalf("ReadCard = %+v, %v; want the int8 card back", got, err)
	}
	if p := CardPath(w); filepath.Base(p) != "m.int8.gozoo.json" {
		t.Errorf("CardPath = %s; want m.int8.gozoo.json", p)
	}
	card.Calibration = nil
	if err := WriteCard(w, card); !errors.Is(err, ErrBadCard) {
		t.Errorf("WriteCard(int8 without calibration) = %v; want ErrBadCard", err)
	}
}
