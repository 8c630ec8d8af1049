package config

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadServe(t *testing.T) {
	src := `version: 1
models:
  - model: resnet18.tv_in1k
    instances: 2
  - name: small
    arch: resnet18
    weights: w/ft.pth
    plugin: resnet
    options: {num_classes: 3}
    outputs: [fc, avgpool]
    max_batch: 4
    max_delay: 5ms
    queue: 16
    threads: 2
  - onnx: m/net.onnx
`
	l, err := LoadServeBytes("dir/models.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Models) != 3 {
		t.Fatalf("%d models; want 3", len(l.Models))
	}
	a, s, o := l.Models[0], l.Models[1], l.Models[2]
	if a.Name != "resnet18.tv_in1k" || a.Instances != 2 || a.Line != 3 {
		t.Errorf("catalog model = %+v", a)
	}
	abs, _ := filepath.Abs("dir")
	if s.Name != "small" || s.Weights != filepath.Join(abs, "w/ft.pth") || s.Delay != 5*time.Millisecond ||
		s.MaxBatch != 4 || s.Queue != 16 || s.Threads != 2 || s.Plugin != "resnet" || s.Options["num_classes"] != 3 || len(s.Outputs) != 2 {
		t.Errorf("arch model = %+v", s)
	}
	if o.Name != "net" || o.ONNX != filepath.Join(abs, "m/net.onnx") {
		t.Errorf("onnx model = %+v", o)
	}
}

func TestLoadServeErrors(t *testing.T) {
	for _, tc := range []struct {
		name, src, want string
	}{
		{"typo", "version: 1\nmodels:\n  - arch: resnet18\n    max_bach: 4\n", `m.yaml:4: unknown key 'max_bach' in models.0; did you mean 'max_batch'?`},
		{"top typo", "version: 1\nmodel:\n  - arch: resnet18\n", `m.yaml:2: unknown key 'model' at the top level; did you mean 'models'?`},
		{"type", "version: 1\nmodels:\n  - arch: resnet18\n    instances: two\n", `m.yaml:4: models.0.instances must be an integer, not the string "two"`},
		{"none", "version: 1\nmodels:\n  - name: x\n", `m.yaml:3: model 1 names no model: give model:`},
		{"two", "version: 1\nmodels:\n  - arch: resnet18\n    onnx: a.onnx\n", `m.yaml:4: model 1 gives arch and onnx: give one of them`},
		{"weights", "version: 1\nmodels:\n  - model: resnet18.tv_in1k\n    weights: w.pth\n", `m.yaml:4: weights goes with arch:; model sets its own`},
		{"delay", "version: 1\nmodels:\n  - arch: resnet18\n    max_delay: 5\n", `m.yaml:4: models.0.max_delay must be a string`},
		{"delay unit", "version: 1\nmodels:\n  - arch: resnet18\n    max_delay: 5 ms\n", `m.yaml:4: max_delay "5 ms": want a duration`},
		{"negative", "version: 1\nmodels:\n  - arch: resnet18\n    queue: -1\n", `m.yaml:4: queue -1: want a positive number`},
		{"dup", "version: 1\nmodels:\n  - arch: resnet18\n  - model: x\n    name: resnet18\n", `m.yaml:4: two models are named resnet18 (m.yaml:3 and this one)`},
		{"empty list", "version: 1\nmodels: []\n", `m.yaml:2: no models`},
		{"no version", "models:\n  - arch: resnet18\n", `m.yaml:1: no version: key`},
		{"yaml", "version: 1\nmodels:\n  - arch: [\n", `m.yaml:`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadServeBytes("m.yaml", []byte(tc.src))
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("LoadServeBytes = %v; want an ErrInvalid containing %q", err, tc.want)
			}
		})
	}
}

func FuzzLoadServe(f *testing.F) {
	f.Add([]byte("version: 1\nmodels:\n  - arch: resnet18\n    max_delay: 2ms\n"))
	f.Add([]byte("version: 1\nmodels:\n  - onnx: a.onnx\n  - model: m\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := LoadServeBytes("m.yaml", b)
		if err == nil && len(l.Models) == 0 {
			t.Fatal("a model list with no models loaded")
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
	})
}
