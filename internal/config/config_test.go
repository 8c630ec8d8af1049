package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

const good = `version: 1
kind: probe
model:
  name: resnet18_w8.gozoo_fmnist
  layers: [layer3, avgpool]
data:
  path: .
  limit: 300
probe:
  k: 5
  c_min: 0.01
`

func load(t *testing.T, src string, sets ...string) (*Loaded, error) {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "exp.yaml")
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return LoadBytes(p, []byte(src), sets, func(string) string { return "" })
}

func TestLoadGood(t *testing.T) {
	l, err := load(t, good)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if l.Probe.K != 5 || l.Probe.CMin != 0.01 || l.Probe.CMax != 1e3 || l.Data.Limit != 300 {
		t.Errorf("probe = %+v, data = %+v", l.Probe, l.Data)
	}
	if !reflect.DeepEqual(l.Model.Layers, []string{"layer3", "avgpool"}) {
		t.Errorf("layers = %q", l.Model.Layers)
	}
	if l.Name != "exp" || !filepath.IsAbs(l.Data.Path) || !filepath.IsAbs(l.RunsDir) {
		t.Errorf("name %q, data.path %q, runs_dir %q: want exp and absolute paths", l.Name, l.Data.Path, l.RunsDir)
	}
	if l.Line("probe.k") != 10 || l.Line("model.layers") != 5 {
		t.Errorf("lines probe.k %d model.layers %d; want 10, 5", l.Line("probe.k"), l.Line("model.layers"))
	}
	// The resolved config reads back to the same experiment.
	b, err := Marshal(&l.Experiment)
	if err != nil {
		t.Fatal(err)
	}
	l2, err := LoadBytes(filepath.Join(t.TempDir(), "resolved.yaml"), b, nil, func(string) string { return "" })
	if err != nil {
		t.Fatalf("Load(resolved) = %v\n%s", err, b)
	}
	if !reflect.DeepEqual(l.Experiment, l2.Experiment) {
		t.Errorf("resolved config reloads as\n%+v\nwant\n%+v", l2.Experiment, l.Experiment)
	}
}

func TestOverridesAndEnv(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "exp.yaml")
	os.WriteFile(p, []byte(good), 0o644)
	env := map[string]string{"GOZOO_RUNS_DIR": "elsewhere", "GOZOO_DEVICE": "cuda:1", "GOZOO_PROBE_K": "99"}
	l, err := LoadBytes(p, []byte(good), []string{"probe.k=7", "model.layers=[layer1]", "model.options.width=8", "probe.c_max=1e2"},
		func(k string) string { return env[k] })
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	cwd, _ := os.Getwd()
	if l.Probe.K != 7 || l.Probe.CMax != 100 || !reflect.DeepEqual(l.Model.Layers, []string{"layer1"}) || l.Model.Options["width"] != 8 {
		t.Errorf("overrides not applied: probe %+v model %+v", l.Probe, l.Model)
	}
	if l.Device != "cuda:1" || l.RunsDir != filepath.Join(cwd, "elsewhere") {
		t.Errorf("device %q runs_dir %q: want cuda:1 and elsewhere under the working directory", l.Device, l.RunsDir)
	}
	if len(l.Env) != 2 {
		t.Errorf("Env = %q; want only the two named variables", l.Env)
	}
}

func TestBadConfigs(t *testing.T) {
	tests := []struct {
		name, src string
		sets      []string
		want      string // ":LINE: message" fragment
	}{
		{"typo", good + "finetune:\n  lr: 0.1\n  epocs: 5\n", nil, ":14: unknown key 'epocs' in finetune; did you mean 'epochs'?"},
		{"typo suggestion", strings.Replace(good, "  k: 5", "  max_itr: 5", 1), nil, "did you mean 'max_iter'?"},
		{"top-level typo", good + "seeed: 3\n", nil, ":12: unknown key 'seeed' at the top level; did you mean 'seed'?"},
		{"quoted int", good + "finetune:\n  epochs: \"20\"\n", nil, `:13: finetune.epochs must be an integer, not the string "20"; drop the quotes`},
		{"comma string list", strings.Replace(good, "[layer3, avgpool]", "layer3,avgpool", 1), nil, ":5: model.layers must be a list (write [layer3,avgpool], not one string)"},
		{"torch name as key", good + "layer4.0:\n  x: 1\n", nil, `:12: key "layer4.0": keys are lower-case`},
		{"upper case key", strings.Replace(good, "kind:", "Kind:", 1), nil, `:2: key "Kind"`},
		{"duplicate key", good + "probe:\n  k: 3\n", nil, ":12: key 'probe' appears twice"},
		{"bad kind", strings.Replace(good, "kind: probe", "kind: prob", 1), nil, `:2: kind "prob": use one of`},
		{"no version", strings.Replace(good, "version: 1\n", "", 1), nil, "no version: key"},
		{"future version", strings.Replace(good, "version: 1", "version: 2", 1), nil, ":1: version 2"},
		{"missing data", strings.Replace(good, "path: .", "path: nowhere", 1), nil, ":7: data.path"},
		{"bool for float", good + "data2: 1\n", nil, "unknown key 'data2'"},
		{"set unknown", good, []string{"probe.epocs=3"}, "--set probe.epocs=3: unknown key 'epocs' in probe"},
		{"set wrong type", good, []string{"probe.k=\"3\""}, `--set probe.k="3": probe.k must be an integer`},
		{"set invalid value", good, []string{"probe.k=0"}, "--set probe.k=0: probe.k must be 1 or more"},
		{"grid unknown key", strings.Replace(good, "kind: probe", "kind: compare", 1) + "compare:\n  grid:\n    - key: probe.kk\n      values: [1, 2]\n", nil,
			":14: compare.grid: unknown key 'kk' in probe; did you mean 'k'?"},
		{"grid wrong type", strings.Replace(good, "kind: probe", "kind: compare", 1) + "compare:\n  grid:\n    - key: model.layers\n      values: [layer1, [layer2]]\n", nil,
			":15: compare.grid value 0 of model.layers"},
		{"not yaml", "version: 1\nkind: [\n", nil, "not valid YAML"},
		{"null value", good + "seed:\n", nil, ":12: seed has no value"},
		{"options nested", good + "model2: 1\n", nil, "did you mean 'model'?"},
		{"alias", good + "name: &a x\nthreads: *a\n", nil, "aliases"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := load(t, tt.src, tt.sets...)
			if err == nil {
				t.Fatalf("Load = nil; want an error containing %q", tt.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || !errors.Is(err, ErrInvalid) {
				t.Errorf("Load = %T %v; want *Error wrapping ErrInvalid", err, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Load = %v; want it to contain %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("Load = %q; want one line", err)
			}
		})
	}
}

func TestTrials(t *testing.T) {
	src := strings.Replace(good, "kind: probe", "kind: compare", 1) + `compare:
  trial: probe
  grid:
    - key: model.layers
      values: [[layer1], [layer2, layer3]]
    - key: probe.k
      values: [1, 3, 5]
`
	l, err := load(t, src)
	if err != nil {
		t.Fatal(err)
	}
	trials := l.Trials()
	if len(trials) != 6 {
		t.Fatalf("Trials() = %d; want 6", len(trials))
	}
	tr, err := l.Trial(trials[4])
	if err != nil {
		t.Fatalf("Trial = %v", err)
	}
	if tr.Kind != KindProbe || tr.Probe.K != 3 || !reflect.DeepEqual(tr.Model.Layers, []string{"layer2", "layer3"}) {
		t.Errorf("trial 4 = kind %s k %d layers %q; want probe, 3, [layer2 layer3]", tr.Kind, tr.Probe.K, tr.Model.Layers)
	}
	if tr.Data.Path != l.Data.Path {
		t.Errorf("trial data.path %q; want %q", tr.Data.Path, l.Data.Path)
	}
}

func FuzzLoad(f *testing.F) {
	f.Add([]byte(good))
	f.Add([]byte("version: 1\nkind: compare\nmodel: {arch: x}\ndata: {path: .}\ncompare: {grid: [{key: probe.k, values: [1]}]}\n"))
	f.Add([]byte("version: 1\nkind: [\n"))
	f.Add([]byte("a: &x [*x]\n"))
	dir := f.TempDir()
	p := filepath.Join(dir, "f.yaml")
	f.Fuzz(func(t *testing.T, b []byte) {
		l, err := LoadBytes(p, b, nil, func(string) string { return "" })
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Load = %v; want a config error", err)
			}
			return
		}
		out, err := Marshal(&l.Experiment)
		if err != nil {
			t.Fatal(err)
		}
		l2, err := LoadBytes(p, out, nil, func(string) string { return "" })
		if err != nil {
			t.Fatalf("resolved config does not reload: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(l.Experiment, l2.Experiment) {
			t.Fatalf("resolved config reloads differently")
		}
	})
}
