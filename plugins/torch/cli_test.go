package torch_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/torch"
)

var gozooBuild struct {
	once sync.Once
	dir  string
	err  error
}

// gozooBinary builds bin/gozoo once per test process into a temporary
// folder (removed by TestMain) and returns its path.
func gozooBinary(t *testing.T) string {
	t.Helper()
	gozooBuild.once.Do(func() {
		gozooBuild.dir, gozooBuild.err = os.MkdirTemp("", "gozoo-test-cli-")
		if gozooBuild.err != nil {
			return
		}
		out, err := exec.Command("go", "build", "-o", filepath.Join(gozooBuild.dir, "gozoo"), "github.com/gozoo/gozoo/cmd/gozoo").CombinedOutput()
		if err != nil {
			gozooBuild.err = &buildError{err, string(out)}
		}
	})
	if gozooBuild.err != nil {
		t.Fatalf("go build gozoo: %v", gozooBuild.err)
	}
	return filepath.Join(gozooBuild.dir, "gozoo")
}

type buildError struct {
	err error
	out string
}

func (e *buildError) Error() string { return e.err.Error() + "\n" + e.out }

func removeGozooBinary() {
	if gozooBuild.dir != "" {
		os.RemoveAll(gozooBuild.dir)
	}
}

// cliRun runs the built gozoo as a user types it: in the scratch folder
// dir, with the torch plugin's manifest folder as the plugin path, and
// returns its combined output.
func cliRun(t *testing.T, dir, plugins string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gozooBinary(t), append([]string{"--plugin-path", plugins}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	t.Logf("gozoo %s\n%s", strings.Join(args, " "), out)
	return string(out), err
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// TestCLIRefusesCodeInCheckpoints hands gozoo finetune and gozoo extract
// --plugin torch a TorchScript archive named like a checkpoint, whose
// __setstate__ creates a marker file when torch loads it, and a .pth whose
// zip CRC is wrong, by relative paths from a scratch folder. Every run is
// refused with an error naming the file and the reason, the marker never
// appears, and no output is written. Resuming from a "checkpoint" whose
// training state is such an archive is refused the same way.
func TestCLIRefusesCodeInCheckpoints(t *testing.T) {
	plugins := pluginDir(t)
	dir := t.TempDir()
	marker := filepath.Join(dir, "MARKER")
	testenv.RunPython(t, "testdata/make_evil.py", filepath.Join(dir, "evil.pth"), marker, filepath.Join(dir, "crc.pth"))
	writeFashion(t, filepath.Join(dir, "data"), 40, 10)
	if err := os.MkdirAll(filepath.Join(dir, "old"), 0o755); err != nil {
		t.Fatal(err)
	}
	evil, err := os.ReadFile(filepath.Join(dir, "evil.pth"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"old/epoch-001.pth", "old/epoch-001.trainstate"} {
		if err := os.WriteFile(filepath.Join(dir, name), evil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	finetune := []string{"finetune", "--arch", "resnet18", "--data", "data", "--epochs", "1", "--input-size", "32", "--batch-size", "16"}
	for _, tc := range []struct {
		name string
		args []string
		want []string // in the error output, all of them
	}{
		{"finetune TorchScript", append(finetune, "--weights", "evil.pth", "--out", "runs/a"), []string{"evil.pth", "not an allowed tensor type", "it was not run", "TorchScript"}},
		{"finetune CRC", append(finetune, "--weights", "crc.pth", "--out", "runs/b"), []string{"crc.pth", "checksum"}},
		{"finetune resume", append(finetune, "--epochs", "2", "--resume", "old/epoch-001.pth", "--out", "runs/c"), []string{"training state", "epoch-001.trainstate", "safetensors header"}},
		{"extract TorchScript", []string{"extract", "--plugin", "torch", "--arch", "resnet18", "--weights", "evil.pth", "--layers", "avgpool", "--out", "a.npz", "data/val"}, []string{"evil.pth", "not an allowed tensor type", "it was not run"}},
		{"extract CRC", []string{"extract", "--plugin", "torch", "--arch", "resnet18", "--num-classes", "10", "--weights", "crc.pth", "--layers", "avgpool", "--out", "b.npz", "data/val"}, []string{"crc.pth", "checksum"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := cliRun(t, dir, plugins, tc.args...)
			if err == nil {
				t.Fatalf("gozoo %s succeeded; want it refused", strings.Join(tc.args, " "))
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("gozoo %s: output lacks %q", strings.Join(tc.args, " "), w)
				}
			}
			if strings.Contains(out, "panic") || strings.Contains(out, "Traceback") {
				t.Errorf("gozoo %s: a crash instead of an error", strings.Join(tc.args, " "))
			}
			if exists(marker) {
				t.Fatalf("the payload ran: %s exists", marker)
			}
		})
	}
	for _, p := range []string{"runs/a/epoch-001.pth", "runs/b/epoch-001.pth", "runs/c/epoch-002.pth", "a.npz", "b.npz"} {
		if exists(filepath.Join(dir, p)) {
			t.Errorf("%s was written by a refused run", p)
		}
	}
}

// TestCLIRelativePaths runs the built gozoo from a scratch folder with
// relative paths only: finetune --weights r18.pth --out runs/ft, a resume
// from runs/ft/epoch-001.pth, extract --plugin torch from the result and
// from a TorchScript file named by --opt file=. Every file lands where the
// user said, none in the plugin's folder.
func TestCLIRelativePaths(t *testing.T) {
	plugins := pluginDir(t)
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/make_weights.py", "resnet18", filepath.Join(dir, "r18.pth"), "0", "10")
	testenv.RunPython(t, "testdata/make_script.py", dir) // resnet18.pt
	writeFashion(t, filepath.Join(dir, "data"), 40, 10)
	ft := []string{"finetune", "--arch", "resnet18", "--weights", "r18.pth", "--data", "data", "--input-size", "32",
		"--batch-size", "16", "--freeze", "*", "--unfreeze", "fc.*", "--out", "runs/ft"}
	if _, err := cliRun(t, dir, plugins, append(ft, "--epochs", "1")...); err != nil {
		t.Fatalf("finetune: %v", err)
	}
	if _, err := cliRun(t, dir, plugins, append(ft, "--epochs", "2", "--resume", "runs/ft/epoch-001.pth")...); err != nil {
		t.Fatalf("finetune --resume: %v", err)
	}
	for _, p := range []string{"runs/ft/epoch-001.pth", "runs/ft/epoch-001.trainstate", "runs/ft/epoch-002.pth",
		"runs/ft/epoch-002.trainstate", "runs/ft/metrics.json"} {
		if !exists(filepath.Join(dir, p)) {
			t.Errorf("%s is missing from the working folder", p)
		}
	}
	if _, err := cliRun(t, dir, plugins, "extract", "--plugin", "torch", "--arch", "resnet18", "--num-classes", "10",
		"--weights", "runs/ft/epoch-002.pth", "--layers", "avgpool", "--out", "feats.npz", "data/val"); err != nil {
		t.Fatalf("extract: %v", err)
	}
	if _, err := cliRun(t, dir, plugins, "extract", "--plugin", "torch", "--arch", "torchscript", "--opt", "file=resnet18.pt",
		"--layers", "output", "--out", "ts.npz", "data/val"); err != nil {
		t.Fatalf("extract --arch torchscript: %v", err)
	}
	for _, p := range []string{"feats.npz", "ts.npz"} {
		if !exists(filepath.Join(dir, p)) {
			t.Errorf("%s is missing from the working folder", p)
		}
	}
	// Nothing lands beside the plugin (its working folder).
	err := filepath.Walk(torch.Dir(), func(p string, info os.FileInfo, err error) error {
		if err == nil && (strings.HasSuffix(p, ".pth") || strings.HasSuffix(p, ".npz") || strings.HasSuffix(p, ".trainstate")) {
			t.Errorf("%s was written in the plugin's folder", p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// relativeProbe builds models through the plugin's own Load path with
// relative paths, as a caller that skips the host would send them, and
// prints each error.
const relativeProbe = `
from gozoo_torch import models
from gozoo_torch.errors import GozooError
from gozoo_torch.pb import backbone_pb2 as pb
for req in [pb.LoadRequest(arch="resnet18", weights_path="r18.safetensors"),
            pb.LoadRequest(arch="torchscript", options={"file": "model.pt"}),
            pb.LoadRequest(arch="module", options={"factory": "m:f", "path": "src"})]:
    try:
        models.build(req)
        print("loaded")
    except GozooError as e:
        print(e.code, e.message)
`

// TestPluginRefusesRelativePaths checks that the plugin never resolves a
// path against its own working folder: a relative weights path, file or
// path option is an error that names the path.
func TestPluginRefusesRelativePaths(t *testing.T) {
	cmd := exec.Command(testenv.Python(t), "-c", relativeProbe)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PYTHONPATH="+torch.Dir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	want := []string{"'r18.safetensors' is a relative path", "'model.pt' is a relative path", "'src' is a relative path"}
	if len(lines) != len(want) {
		t.Fatalf("probe printed %q; want %d errors", out, len(want))
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], "BAD_OPTION ") || !strings.Contains(lines[i], w) {
			t.Errorf("load %d: %q; want BAD_OPTION containing %q", i, lines[i], w)
		}
	}
}

// safetensorsProbe writes malformed safetensors files and prints how the
// plugin's reader answers each, one line per file.
const safetensorsProbe = `
import json, os, struct, sys, tempfile
from gozoo_torch import safetensors
from gozoo_torch.errors import GozooError
d = tempfile.mkdtemp()
def st(header, data, hlen=None):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h) if hlen is None else hlen) + h + data
ok = {"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
cases = [
    ("short", b"\x01\x02"),
    ("huge header", st(ok, b"\0" * 8, hlen=1 << 40)),
    ("header past end", st(ok, b"\0" * 8, hlen=4096)),
    ("not json", struct.pack("<Q", 4) + b"\x80\x04K." + b"\0" * 8),
    ("bad dtype", st({"w": {"dtype": "OBJ", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 8)),
    ("size mismatch", st({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8)),
    ("past data", st({"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]}}, b"\0" * 8)),
    ("overlap", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8)),
    ("gap", st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8)),
    ("trailing", st(ok, b"\0" * 12)),
    ("negative shape", st({"w": {"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}}, b"\0" * 8)),
    ("good", st(ok, struct.pack("<2f", 1.5, -2))),
]
for name, data in cases:
    p = os.path.join(d, name)
    open(p, "wb").write(data)
    try:
        t, _ = safetensors.read(p)
        print("%s: read %s" % (name, t["w"].tolist()))
    except GozooError as e:
        print("%s: %s %s" % (name, e.code, e.message))
`

// TestSafetensorsReaderRefuses feeds the plugin's safetensors reader
// malformed files: each is refused with a WEIGHTS error, and a good file
// reads back its values.
func TestSafetensorsReaderRefuses(t *testing.T) {
	cmd := exec.Command(testenv.Python(t), "-c", safetensorsProbe)
	cmd.Env = append(os.Environ(), "PYTHONPATH="+torch.Dir())
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("probe: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 12 {
		t.Fatalf("probe printed %q; want 12 lines", out)
	}
	for _, l := range lines[:11] {
		if name, rest, _ := strings.Cut(l, ": "); !strings.HasPrefix(rest, "WEIGHTS ") {
			t.Errorf("safetensors %s: %q; want a WEIGHTS error", name, rest)
		}
	}
	if lines[11] != "good: read [1.5, -2.0]" {
		t.Errorf("good file: %q; want read [1.5, -2.0]", lines[11])
	}
}
