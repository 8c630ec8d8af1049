package cli

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
)

// TestServeConfig serves a YAML model list as a user types it, from a
// scratch folder with a relative --config path: each model gets its own
// name and settings, unset ones the flags' defaults; a typo and flags that
// the file replaces are refused with the file's line and the flag named.
func TestServeConfig(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	bin := gozoo(t)
	dir := t.TempDir()
	list := `version: 1
models:
  - name: fm
    model: ` + zoo.DefaultModel + `
    max_batch: 2
  - name: r18
    arch: resnet18
    options: {num_classes: 3}
    outputs: [avgpool, fc]
    threads: 1
    max_delay: 5ms
    queue: 16
`
	if err := os.WriteFile(filepath.Join(dir, "models.yaml"), []byte(list), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"GOZOO_PLUGIN_PATH=" + plugins}
	_, httpAddr, _, log, _ := startServe(t, bin, dir, env, "--config", "models.yaml")
	for _, want := range []string{
		"models: 2 from models.yaml",
		"model fm: plugin resnet",
		"1 instance(s), ", "batching: max 2 rows, delay 2ms, queue 64",
		"model r18: plugin resnet, arch resnet18",
		"1 instance(s), 1 thread(s) each; batching: max 8 rows, delay 5ms, queue 16",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("serve log lacks %q:\n%s", want, log.String())
		}
	}
	for name, outs := range map[string]int{"fm": -1, "r18": 2} {
		resp, err := http.Get("http://" + httpAddr + "/v2/models/" + name)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			Name    string
			Outputs []struct{ Name string }
		}
		err = json.NewDecoder(resp.Body).Decode(&meta)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || meta.Name != name {
			t.Errorf("GET /v2/models/%s: %d %+v %v", name, resp.StatusCode, meta, err)
		}
		if outs > 0 && len(meta.Outputs) != outs {
			t.Errorf("model %s has outputs %+v; want the list's %d", name, meta.Outputs, outs)
		}
	}

	for _, tc := range []struct {
		file string
		args []string
		want string
	}{
		{"typo.yaml", nil, "typo.yaml:4: unknown key 'max_bach' in models.0; did you mean 'max_batch'?"},
		{"models.yaml", []string{"--instances", "2", "--arch", "vgg11"}, "--config models.yaml lists the models and their settings, so --arch, --instances conflicts"},
		{"arch.yaml", nil, `arch.yaml:3: model resnt18: sdk: unknown architecture: no plugin offers arch "resnt18"; did you mean resnet18`},
	} {
		os.WriteFile(filepath.Join(dir, "typo.yaml"), []byte("version: 1\nmodels:\n  - arch: resnet18\n    max_bach: 4\n"), 0o644)
		os.WriteFile(filepath.Join(dir, "arch.yaml"), []byte("version: 1\nmodels:\n  - arch: resnt18\n"), 0o644)
		cmd := exec.Command(bin, append([]string{"serve", "--http", "127.0.0.1:0", "--config", tc.file}, tc.args...)...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), tc.want) {
			t.Errorf("gozoo serve --config %s %q: %v\n%s\nwant an error with %q", tc.file, tc.args, err, out, tc.want)
		}
	}
}
