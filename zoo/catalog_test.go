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

func TestDefaultCatalog(t *testing.T) {
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	// Every first-party arch has torchvision's ImageNet weights.
	for _, name := range []string{
		"resnet18.tv_in1k", "resnet34.tv_in1k", "resnet50.tv_in1k", "resnet50.tv2_in1k", "resnet101.tv_in1k",
		"resnet152.tv_in1k", "resnext50_32x4d.tv_in1k", "resnext101_32x8d.tv_in1k", "wide_resnet50_2.tv_in1k",
		"wide_resnet101_2.tv_in1k", "vgg11.tv_in1k", "vgg11_bn.tv_in1k", "vgg13.tv_in1k", "vgg13_bn.tv_in1k",
		"vgg16.tv_in1k", "vgg16_bn.tv_in1k", "vgg19.tv_in1k", "vgg19_bn.tv_in1k", "inception_v3.tv_in1k",
		"googlenet.tv_in1k", "vit_b_16.tv_in1k", "vit_b_32.tv_in1k", "vit_l_16.tv_in1k", "vit_l_32.tv_in1k",
		DefaultModel,
	} {
		e, err := c.Lookup(name)
		if err != nil {
			t.Errorf("Lookup(%q) = %v", name, err)
			continue
		}
		if e.Weights.URL != "" && !strings.Contains(e.Weights.URL, "-"+e.Weights.HashPrefix+".pth") {
			t.Errorf("%s: hash prefix %q is not the one in %s", name, e.Weights.HashPrefix, e.Weights.URL)
		}
		if _, err := e.Preprocess.Transform(); err != nil {
			t.Errorf("%s: preprocess: %v", name, err)
		}
	}
	e, _ := c.Lookup("inception_v3.tv_in1k")
	if tf, _ := e.Preprocess.Transform(); tf.ResizeSize != 342 || tf.CropH != 299 {
		t.Errorf("inception_v3 transform = %+v; want resize 342 crop 299", tf)
	}
	e, _ = c.Lookup("vit_l_16.tv_in1k")
	if tf, _ := e.Preprocess.Transform(); tf.ResizeSize != 242 || tf.CropH != 224 || e.Plugin != "transformer" || e.Arch != "vit_l_16" {
		t.Errorf("vit_l_16.tv_in1k = plugin %s arch %s transform %+v; want transformer vit_l_16, resize 242 crop 224", e.Plugin, e.Arch, tf)
	}
	e, _ = c.Lookup("efficientnet_b3.tv_in1k")
	if tf, _ := e.Preprocess.Transform(); tf.ResizeSize != 320 || tf.CropH != 300 || e.Preprocess.Interpolation != "bicubic" || e.Plugin != "efficientnet" || e.Layer != "avgpool" {
		t.Errorf("efficientnet_b3.tv_in1k = plugin %s layer %s transform %+v; want efficientnet avgpool, resize 320 crop 300 bicubic", e.Plugin, e.Layer, tf)
	}
	e, _ = c.Lookup("regnet_y_400mf.tv2_in1k")
	if tf, _ := e.Preprocess.Transform(); tf.ResizeSize != 232 || tf.CropH != 224 || e.Plugin != "regnet" || e.Layer != "avgpool" {
		t.Errorf("regnet_y_400mf.tv2_in1k = plugin %s layer %s transform %+v; want regnet avgpool, resize 232 crop 224", e.Plugin, e.Layer, tf)
	}
	if _, err := c.Lookup("resnet50.tv_in1"); !errors.Is(err, ErrUnknownModel) || !strings.Contains(err.Error(), "resnet50.tv_in1k") {
		t.Errorf("Lookup(typo) = %v; want ErrUnknownModel suggesting resnet50.tv_in1k", err)
	}
}

// torchvisionWeights prints, for each "arch.ENUM" argument, what
// torchvision's own weights enum says: URL, eval transform and accuracy.
const torchvisionWeights = `
import json, sys
import torchvision.models as M
out = {}
for a in sys.argv[1:]:
    arch, enum = a.split(".")
    w = M.get_model_weights(arch)[enum]
    t = w.transforms()
    acc = w.meta["_metrics"]["ImageNet-1K"]
    out[a] = dict(url=w.url, resize=t.resize_size, crop=t.crop_size, interpolation=t.interpolation.value,
                  mean=t.mean, std=t.std, top1=acc["acc@1"], top5=acc["acc@5"])
print(json.dumps(out))
`

// TestCatalogIsTorchvisions checks every torchvision entry of the embedded
// catalog against torchvision's own weights enums: URL, hash prefix,
// resize, crop, interpolation, mean, std and accuracy.
func TestCatalogIsTorchvisions(t *testing.T) {
	py := testenv.Python(t)
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	enums := map[string]string{"tv_in1k": "IMAGENET1K_V1", "tv2_in1k": "IMAGENET1K_V2"}
	var args []string
	byArg := map[string]*Entry{}
	for _, e := range c.Entries() {
		if e.Source != "embedded:torchvision.yaml" {
			continue
		}
		arch, tag, _ := strings.Cut(e.Name, ".")
		enum, ok := enums[tag]
		if !ok || arch != e.Arch {
			t.Errorf("%s: arch %s; want a name ARCH.tv_in1k or ARCH.tv2_in1k", e.Name, e.Arch)
			continue
		}
		a := arch + "." + enum
		args = append(args, a)
		byArg[a] = e
	}
	for _, want := range []string{"resnet50.IMAGENET1K_V2", "vit_b_16.IMAGENET1K_V1", "vit_b_32.IMAGENET1K_V1", "vit_l_16.IMAGENET1K_V1", "vit_l_32.IMAGENET1K_V1",
		"convnext_tiny.IMAGENET1K_V1", "convnext_large.IMAGENET1K_V1", "swin_t.IMAGENET1K_V1", "swin_b.IMAGENET1K_V1",
		"mobilenet_v2.IMAGENET1K_V1", "mobilenet_v2.IMAGENET1K_V2", "mobilenet_v3_large.IMAGENET1K_V1", "mobilenet_v3_large.IMAGENET1K_V2",
		"mobilenet_v3_small.IMAGENET1K_V1", "mnasnet0_5.IMAGENET1K_V1", "mnasnet0_75.IMAGENET1K_V1", "mnasnet1_0.IMAGENET1K_V1",
		"mnasnet1_3.IMAGENET1K_V1", "shufflenet_v2_x0_5.IMAGENET1K_V1", "shufflenet_v2_x1_0.IMAGENET1K_V1",
		"shufflenet_v2_x1_5.IMAGENET1K_V1", "shufflenet_v2_x2_0.IMAGENET1K_V1", "alexnet.IMAGENET1K_V1", "squeezenet1_0.IMAGENET1K_V1",
		"squeezenet1_1.IMAGENET1K_V1", "densenet121.IMAGENET1K_V1", "densenet161.IMAGENET1K_V1", "densenet169.IMAGENET1K_V1",
		"densenet201.IMAGENET1K_V1"} {
		if !slices.Contains(args, want) {
			t.Errorf("the catalog has no entry for torchvision's %s", want)
		}
	}
	// Every EfficientNet has torchvision's V1 weights.
	for _, arch := range []string{"efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
		"efficientnet_b5", "efficientnet_b6", "efficientnet_b7", "efficientnet_v2_s", "efficientnet_v2_m", "efficientnet_v2_l"} {
		if !slices.Contains(args, arch+".IMAGENET1K_V1") {
			t.Errorf("the catalog has no entry for torchvision's %s.IMAGENET1K_V1", arch)
		}
	}
	// Every RegNet but regnet_y_128gf (SWAG weights only) has
	// torchvision's V1 and V2 weights.
	for _, arch := range []string{"regnet_y_400mf", "regnet_y_800mf", "regnet_y_1_6gf", "regnet_y_3_2gf", "regnet_y_8gf", "regnet_y_16gf",
		"regnet_y_32gf", "regnet_x_400mf", "regnet_x_800mf", "regnet_x_1_6gf", "regnet_x_3_2gf", "regnet_x_8gf", "regnet_x_16gf", "regnet_x_32gf"} {
		for _, enum := range []string{".IMAGENET1K_V1", ".IMAGENET1K_V2"} {
			if !slices.Contains(args, arch+enum) {
				t.Errorf("the catalog has no entry for torchvision's %s%s", arch, enum)
			}
		}
	}
	out, err := exec.Command(py, append([]string{"-c", torchvisionWeights}, args...)...).Output()
	if err != nil {
		t.Fatalf("torchvision's weights enums: %v", err)
	}
	var tv map[string]struct {
		URL           string
		Resize, Crop  []int
		Interpolation string
		Mean, Std     []float32
		Top1, Top5    float64
	}
	if err := json.Unmarshal(out, &tv); err != nil {
		t.Fatal(err)
	}
	for a, e := range byArg {
		w, ok := tv[a]
		if !ok {
			t.Errorf("%s: torchvision printed nothing for %s", e.Name, a)
			continue
		}
		p := e.Preprocess
		if e.Weights.URL != w.URL || !strings.HasSuffix(w.URL, "-"+e.Weights.HashPrefix+".pth") {
			t.Errorf("%s: weights %s (hash prefix %s); torchvision's %s is %s", e.Name, e.Weights.URL, e.Weights.HashPrefix, a, w.URL)
		}
		if !slices.Equal([]int{p.Resize}, w.Resize) || !slices.Equal([]int(p.Crop), w.Crop) || p.Interpolation != w.Interpolation {
			t.Errorf("%s: resize %d crop %v %s; torchvision's %s: resize %v crop %v %s", e.Name, p.Resize, p.Crop, p.Interpolation, a, w.Resize, w.Crop, w.Interpolation)
		}
		if !slices.Equal(p.Mean, w.Mean) || !slices.Equal(p.Std, w.Std) {
			t.Errorf("%s: mean %v std %v; torchvision's %s: mean %v std %v", e.Name, p.Mean, p.Std, a, w.Mean, w.Std)
		}
		if e.Metrics["imagenet_top1"] != w.Top1 || e.Metrics["imagenet_top5"] != w.Top5 {
			t.Errorf("%s: metrics %v; torchvision's %s: top1 %v top5 %v", e.Name, e.Metrics, a, w.Top1, w.Top5)
		}
	}
}

func TestEmbeddedModelUnpacks(t *testing.T) {
	c, _ := Default()
	e, err := c.Lookup(DefaultModel)
	if err != nil {
		t.Fatal(err)
	}
	if e.Metrics["fashion_mnist_test_accuracy"] < 0.85 {
		t.Errorf("%s records accuracy %v; want the measured test accuracy (>= 0.85)", e.Name, e.Metrics)
	}
	cache, _ := OpenCache(t.TempDir(), WithOffline(true))
	p, err := cache.Fetch(t.Context(), e)
	if err != nil {
		t.Fatalf("Fetch(embedded) offline = %v", err)
	}
	if st, err := os.Stat(p); err != nil || st.Size() == 0 {
		t.Fatalf("unpacked weights %s: %v", p, err)
	}
}

func TestMergeUserCatalog(t *testing.T) {
	dir := t.TempDir()
	good := `models:
  - name: resnet50.tv_in1k
    plugin: resnet
    arch: resnet50
    weights: {path: mine.pth, sha256: ` + strings.Repeat("ab", 32) + `}
    preprocess: {resize: 232, crop: [200, 224], interpolation: bicubic}
    layer: layer4
`
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "models:\n  - name: x\n    plugin: resnet\n    arch: resnet18\n    wieghts: {}\n", "field wieghts not found"},
		{"no checksum", "models:\n  - name: x\n    plugin: resnet\n    arch: resnet18\n    weights: {url: http://h/x.pth}\n    preprocess: {crop: 224}\n", "sha256"},
		{"two sources", "models:\n  - name: x\n    plugin: resnet\n    arch: resnet18\n    weights: {url: http://h/x.pth, path: x.pth, sha256: " + strings.Repeat("0", 64) + "}\n    preprocess: {crop: 224}\n", "exactly one"},
		{"bad interpolation", "models:\n  - name: x\n    plugin: resnet\n    arch: resnet18\n    weights: {path: x.pth, hash_prefix: 01234567}\n    preprocess: {crop: 224, interpolation: lanczos}\n", "lanczos"},
		{"not yaml", "{{{", "bad catalog"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, "bad.yaml")
			os.WriteFile(p, []byte(tc.yaml), 0o644)
			c, _ := Default()
			if err := c.MergeFile(p); !errors.Is(err, ErrBadCatalog) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("MergeFile = %v; want ErrBadCatalog mentioning %q", err, tc.want)
			}
		})
	}
	p := filepath.Join(dir, "zoo.yaml")
	os.WriteFile(p, []byte(good), 0o644)
	c, _ := Default()
	if err := c.MergeFile(p); err != nil {
		t.Fatal(err)
	}
	e, _ := c.Lookup("resnet50.tv_in1k")
	tf, err := e.Preprocess.Transform()
	if err != nil || e.Weights.Path != filepath.Join(dir, "mine.pth") || e.Source != p || tf.CropH != 200 || tf.CropW != 224 || tf.Mean[0] != 0.485 {
		t.Errorf("merged entry = %+v, transform %+v, %v", e, tf, err)
	}
}

func FuzzMerge(f *testing.F) {
	b, _ := embeddedCatalogs.ReadFile("catalog/torchvision.yaml")
	f.Add(string(b[:2000]))
	f.Add("models:\n  - name: a\n")
	f.Fuzz(func(t *testing.T, s string) {
		c := New()
		c.Merge(strings.NewReader(s), "fuzz") // must not panic
	})
}
