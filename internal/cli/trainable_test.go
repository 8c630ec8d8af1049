package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/plugins/torch"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

// TestFreezeNoMatch runs gozoo params with patterns that match no
// parameter against the Go resnet plugin, the torch plugin and the toy
// plugin (which does not refuse such patterns itself): each is an
// sdk.ErrNoMatch error naming the flag and the closest names.
func TestFreezeNoMatch(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	toy, err := toyplugin.Build()
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[string]string{"resnet": testenv.BuildPlugin(t, "resnet"), "toy": filepath.Dir(toy)}
	if py := testenv.Python(t); py != "" {
		dir := t.TempDir()
		if _, err := torch.WriteManifest(dir, py, torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "1"}); err != nil {
			t.Fatal(err)
		}
		dirs["torch"] = dir
	}
	for _, tc := range []struct {
		plugin string
		args   []string
		want   []string
	}{
		{"resnet", []string{"params", "resnet18", "--unfreeze", "layer9.*"},
			[]string{`--unfreeze layer9.*: `, `"layer9.*"; did you mean "layer1.*", "layer2.*", "layer3.*"?`}},
		{"resnet", []string{"params", "resnet18", "--freeze", "*", "--unfreeze", "layer4.*,fcc.*"},
			[]string{`--unfreeze layer4.*,fcc.*`, `"fcc.*"; did you mean "fc.*"`}},
		{"resnet", []string{"params", "resnet18", "--freeze", "*.bais"},
			[]string{`--freeze *.bais`, `did you mean "*.bias"`}},
		{"torch", []string{"params", "resnet18", "--plugin", "torch", "--freeze", "*", "--unfreeze", "layer4.*,fcc.*"},
			[]string{`--unfreeze layer4.*,fcc.*`, `"fcc.*"; did you mean "fc.*"`}},
		{"torch", []string{"params", "resnet18", "--plugin", "torch", "--unfreeze", "layer9.*"},
			[]string{`"layer9.*"; did you mean "layer1.*", "layer2.*", "layer3.*"?`}},
		{"toy", []string{"params", "toy", "--unfreeze", "head.*,lin.wieght"},
			[]string{`--unfreeze head.*,lin.wieght`, `"lin.wieght"; did you mean "lin.weight"`}},
	} {
		t.Run(tc.plugin+" "+strings.Join(tc.args[1:], " "), func(t *testing.T) {
			dir, ok := dirs[tc.plugin]
			if !ok {
				t.Skip("no torch plugin (PyTorch missing)")
			}
			_, _, err := execute(t, &Factory{}, append([]string{"--plugin-path", dir}, tc.args...)...)
			if !errors.Is(err, sdk.ErrNoMatch) || !errors.Is(err, sdk.ErrBadInput) {
				t.Fatalf("gozoo %s = %v; want an sdk.ErrNoMatch error", strings.Join(tc.args, " "), err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("gozoo %s = %q; want it to contain %q", strings.Join(tc.args, " "), err, w)
				}
			}
		})
	}
}

// TestSetTrainableNoMatchPlugins calls SetTrainable on the plugins
// themselves, past the CLI's own check: the Go and the torch plugin refuse
// a pattern that matches nothing, even next to one that matches, with
// sdk.ErrNoMatch across the wire.
func TestSetTrainableNoMatchPlugins(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dirs := []string{testenv.BuildPlugin(t, "resnet")}
	plugins := []string{"resnet"}
	if py := testenv.Python(t); py != "" {
		dir := t.TempDir()
		if _, err := torch.WriteManifest(dir, py, torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "1"}); err != nil {
			t.Fatal(err)
		}
		dirs, plugins = append(dirs, dir), append(plugins, "torch")
	}
	f := &Factory{PluginPath: dirs}
	defer f.Close()
	for _, p := range plugins {
		m, _, err := f.load(context.Background(), &modelFlags{Arch: "resnet18", Plugin: p, Device: "cpu"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = m.SetTrainable(context.Background(), &sdk.SetTrainableRequest{Patterns: []string{"layer4.*", "fcc.*"}, Trainable: true})
		if !errors.Is(err, sdk.ErrNoMatch) || !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), `"fcc.*"; did you mean "fc.*"`) {
			t.Errorf("plugin %s: SetTrainable(layer4.*, fcc.*) = %v; want sdk.ErrNoMatch suggesting fc.*", p, err)
		}
		ps, err := m.Params(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range ps {
			if strings.HasPrefix(q.Name, "layer4.") && !q.Trainable {
				// Params start trainable; a refused call must change nothing.
				t.Errorf("plugin %s: %s frozen", p, q.Name)
				break
			}
		}
		m.Close()
	}
}

// TestFinetuneNoMatch runs gozoo finetune with an --unfreeze pattern that
// matches no parameter: it stops before training with sdk.ErrNoMatch
// naming the flag and the closest names, and writes no checkpoint.
func TestFinetuneNoMatch(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	py := testenv.Python(t)
	dir := t.TempDir()
	if _, err := torch.WriteManifest(dir, py, torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "1"}); err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	for i, class := range []string{"cat", "dog", "cat", "dog"} {
		if err := os.MkdirAll(filepath.Join(data, class), 0o755); err != nil {
			t.Fatal(err)
		}
		writeImage(t, filepath.Join(data, class, fmt.Sprintf("%d.png", i)), 40, 36, int64(i))
	}
	out := filepath.Join(t.TempDir(), "run")
	_, _, err := execute(t, &Factory{}, "--plugin-path", dir, "finetune", "--arch", "resnet18", "--data", data, "--val-split", "0.5",
		"--input-size", "32", "--epochs", "1", "--batch-size", "2", "--freeze", "*", "--unfreeze", "layer4.*,fcc.*", "--out", out)
	if !errors.Is(err, sdk.ErrNoMatch) || !strings.Contains(err.Error(), "--unfreeze layer4.*,fcc.*") || !strings.Contains(err.Error(), `did you mean "fc.*"`) {
		t.Errorf("finetune --unfreeze layer4.*,fcc.* = %v; want sdk.ErrNoMatch suggesting fc.*", err)
	}
	if ms, _ := filepath.Glob(filepath.Join(out, "*.pth")); len(ms) > 0 {
		t.Errorf("a refused finetune wrote checkpoints %v", ms)
	}
}
