package zoo

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
)

func TestImageNetClassesAreTorchvisions(t *testing.T) {
	py := testenv.Python(t)
	out, err := exec.Command(py, "-c", "import json; from torchvision.models._meta import _IMAGENET_CATEGORIES as C; print(json.dumps(C))").Output()
	if err != nil {
		t.Fatalf("torchvision's _IMAGENET_CATEGORIES: %v", err)
	}
	var want []string
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	got, err := ClassSet(ClassSetImageNet1k)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ClassSet(imagenet1k) has %d names, differing from torchvision's %d (regenerate with zoo/classes/make_imagenet.py)", len(got), len(want))
	}
}

func TestCatalogClasses(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range c.Entries() {
		classes, err := e.ClassNames()
		if err != nil || len(classes) == 0 {
			t.Errorf("%s.ClassNames() = %d names, %v; want the entry's classes", e.Name, len(classes), err)
		}
	}
	e, _ := c.Lookup("resnet50.tv_in1k")
	if cl, _ := e.ClassNames(); len(cl) != 1000 || cl[0] != "tench" || cl[999] != "toilet tissue" {
		t.Errorf("resnet50.tv_in1k classes = %d names starting %q; want ImageNet's 1000", len(cl), cl[:1])
	}
	e, _ = c.Lookup(DefaultModel)
	if cl, _ := e.ClassNames(); len(cl) != 10 || cl[0] != "T-shirt/top" || cl[9] != "Ankle boot" {
		t.Errorf("%s classes = %q; want Fashion-MNIST's in label order", DefaultModel, cl)
	}
}

func TestCatalogRejectsBadClasses(t *testing.T) {
	head := "models:\n  - name: m\n    plugin: resnet\n    arch: resnet18\n    weights: {path: m.pth, sha256: " + strings.Repeat("a", 64) + "}\n    preprocess: {resize: 8, crop: 8, interpolation: bilinear}\n"
	for name, extra := range map[string]string{
		"duplicate":     "    classes: [a, b, a]\n",
		"both":          "    classes: [a, b]\n    class_set: imagenet1k\n",
		"unknown set":   "    class_set: imagenet22k\n",
		"count differs": "    options: {num_classes: \"3\"}\n    classes: [a, b]\n",
	} {
		t.Run(name, func(t *testing.T) {
			err := New().Merge(strings.NewReader(head+extra), "test.yaml")
			if !errors.Is(err, ErrBadCatalog) {
				t.Errorf("Merge(%s) = %v; want ErrBadCatalog", name, err)
			}
		})
	}
}

func TestCardRoundTrip(t *testing.T) {
	dir := t.TempDir()
	w := filepath.Join(dir, "epoch-001.pth")
	if err := os.WriteFile(w, []byte("weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if c, err := ReadCard(w); c != nil || err != nil {
		t.Fatalf("ReadCard(no card) = %v, %v; want nil, nil", c, err)
	}
	card := &ModelCard{Arch: "resnet18", Plugin: "torch", Options: map[string]string{"width": "8"},
		Classes: []string{"cat", "dog"}, ClassesSource: "imagefolder data/train", Preprocess: ImageNetPreprocess(),
		Training: &Training{Base: "random init (seed 0)", Data: "data", Epoch: 1, Epochs: 2, ValAccuracy: 0.5,
			Hyperparameters: map[string]any{"lr": 0.01}}}
	if err := WriteCard(w, card); err != nil {
		t.Fatal(err)
	}
	if p := CardPath(w); p != filepath.Join(dir, "epoch-001.gozoo.json") {
		t.Errorf("CardPath = %s", p)
	}
	got, err := ReadCard(w)
	if err != nil {
		t.Fatal(err)
	}
	if got.Weights.File != "epoch-001.pth" || got.Weights.Size != 7 ||
		!slices.Equal(got.Classes, card.Classes) || got.Training.Epoch != 1 || got.Preprocess.Resize != 256 {
		t.Errorf("ReadCard = %+v; want what was written", got)
	}
	sum, _, _ := FileSHA256(w)
	if got.Weights.SHA256 != sum {
		t.Errorf("card sha256 %s; file's %s", got.Weights.SHA256, sum)
	}
	// Weights replaced after the card was written: refused.
	if err := os.WriteFile(w, []byte("other weights"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCard(w); !errors.Is(err, ErrBadCard) || !strings.Contains(err.Error(), "changed") {
		t.Errorf("ReadCard(stale) = %v; want ErrBadCard saying the weights changed", err)
	}
}

func TestParseCardErrors(t *testing.T) {
	for name, text := range map[string]string{
		"typo":      `{"format": 1, "arch": "resnet18", "clases": ["a"], "preprocess": {"resize": 8, "crop": [8], "interpolation": "bilinear"}}`,
		"no arch":   `{"format": 1, "preprocess": {"resize": 8, "crop": [8], "interpolation": "bilinear"}}`,
		"format":    `{"format": 9, "arch": "resnet18", "preprocess": {"resize": 8, "crop": [8], "interpolation": "bilinear"}}`,
		"dup class": `{"format": 1, "arch": "resnet18", "classes": ["a", "a"], "preprocess": {"resize": 8, "crop": [8], "interpolation": "bilinear"}}`,
		"bad crop":  `{"format": 1, "arch": "resnet18", "preprocess": {"resize": 8, "crop": [], "interpolation": "bilinear"}}`,
		"trailing":  `{"format": 1, "arch": "resnet18", "preprocess": {"resize": 8, "crop": [8], "interpolation": "bilinear"}} {}`,
		"bad sha":   `{"format": 1, "arch": "resnet18", "weights": {"sha256": "xyz"}, "preprocess": {"resize": 8, "crop": [8], "interpolation": "bilinear"}}`,
		"not json":  `arch: resnet18`,
	} {
		if _, err := ParseCard([]byte(text)); !errors.Is(err, ErrBadCard) {
			t.Errorf("ParseCard(%s) = %v; want ErrBadCard", name, err)
		}
	}
}

func FuzzParseCard(f *testing.F) {
	f.Add([]byte(`{"format": 1, "arch": "resnet18", "classes": ["a", "b"], "preprocess": {"resize": 8, "crop": [8], "interpolation": "bilinear", "mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}`))
	f.Add([]byte(`{"format": 1}`))
	f.Add([]byte(`{"format": 1, "arch": "onnx", "preprocess": {"resize": 8, "crop": [8], "interpolation": "bilinear"}, "precision": "int8", "calibration": {"method": "minmax", "images": 3, "list_sha256": "` + strings.Repeat("0", 64) + `", "base": "m.pth"}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCard(b)
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("ParseCard accepted a card that Validate refuses: %v", err)
		}
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ParseCard(out); err != nil {
			t.Fatalf("a parsed card does not parse again: %v\n%s", err, out)
		}
	})
}
