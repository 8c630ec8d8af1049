package cli

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
)

const (
	digitsCSV = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
	fmnistIDX = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
)

var (
	runCLIOnce sync.Once
	runCLIBin  string
	runCLIErr  error
)

// runBinary builds gozoo into a folder whose plugins/ holds the test
// plugins, so that it finds them as an installed gozoo finds the plugins
// beside it: no flags, no environment.
func runBinary(t *testing.T) string {
	t.Helper()
	testenv.ORT(t, ort.LibraryPath())
	src := filepath.Join(testenv.BuildPlugin(t, "resnet"), "gozoo-backbone-resnet")
	runCLIOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gozoo-run-test-")
		if err != nil {
			runCLIErr = err
			return
		}
		testenv.AtCleanup(func() { os.RemoveAll(dir) })
		runCLIBin = filepath.Join(dir, "gozoo")
		if out, err := exec.Command("go", "build", "-o", runCLIBin, "github.com/gozoo/gozoo/cmd/gozoo").CombinedOutput(); err != nil {
			runCLIErr = fmt.Errorf("go build gozoo: %v\n%s", err, out)
			return
		}
		if err := os.MkdirAll(filepath.Join(dir, "plugins"), 0o755); err != nil {
			runCLIErr = err
			return
		}
		if out, err := exec.Command("cp", "-p", src, filepath.Join(dir, "plugins")).CombinedOutput(); err != nil {
			runCLIErr = fmt.Errorf("cp: %v %s", err, out)
		}
	})
	if runCLIErr != nil {
		t.Fatal(runCLIErr)
	}
	return runCLIBin
}

// withTorchPlugin adds the PyTorch plugin (manifest, package and the
// gozoo_plugin package it imports) beside the binary, as make build does.
func withTorchPlugin(t *testing.T, bin string) {
	t.Helper()
	py := testenv.Python(t)
	dir := filepath.Join(filepath.Dir(bin), "plugins")
	root := repoRoot(t)
	m, err := os.ReadFile(filepath.Join(root, "plugins/torch/gozoo-backbone-torch.plugin"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-torch.plugin"), bytes.ReplaceAll(m, []byte("/usr/bin/python3"), []byte(py)), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("cp", "-R", filepath.Join(root, "plugins/python/gozoo_plugin"), filepath.Join(root, "plugins/torch/gozoo_torch"), dir).CombinedOutput(); err != nil {
		t.Fatalf("cp: %v %s", err, out)
	}
}

func repoRoot(t *testing.T) string {
	t.Helper()
	r, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func needData(t *testing.T, path, pkg string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		testenv.Missing(t, path, "apt-get install "+pkg+" (make setup does)")
	}
}

// gozoo runs the built binary in dir as a user types it and returns
// stdout, stderr and the exit code.
func gozooRun(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(runBinary(t), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOZOO_ORT_LIB="+ort.LibraryPath(), "GOZOO_OFFLINE=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// configArg is the shipped config's path relative to the scratch dir.
func configArg(t *testing.T, dir, name string) string {
	t.Helper()
	rel, err := filepath.Rel(dir, filepath.Join(repoRoot(t), "configs", name))
	if err != nil {
		t.Fatal(err)
	}
	return rel
}

var runFolderRE = regexp.MustCompile(`(?m)^run folder: (.+)$`)

func runFolder(t *testing.T, stderr string) string {
	t.Helper()
	m := runFolderRE.FindStringSubmatch(stderr)
	if m == nil {
		t.Fatalf("no run folder in the output:\n%s", stderr)
	}
	return m[1]
}

func readJSON(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func checkPNGFile(t *testing.T, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if b := img.Bounds(); b.Dx() < 300 || b.Dy() < 250 {
		t.Errorf("%s is %dx%d; want a real plot (>= 300x250)", path, b.Dx(), b.Dy())
	}
}

func checkRunFolder(t *testing.T, dir string, files ...string) {
	t.Helper()
	var st status
	readJSON(t, filepath.Join(dir, statusName), &st)
	if st.Status != "finished" {
		t.Errorf("%s: status %q; want finished", dir, st.Status)
	}
	for _, f := range append([]string{givenName, resolvedName, overridesName, "provenance.json", logName, metricsName, "report.md"}, files...) {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("run folder lacks %s", f)
		}
		if strings.HasSuffix(f, ".png") {
			checkPNGFile(t, filepath.Join(dir, f))
		}
	}
	rep, _ := os.ReadFile(filepath.Join(dir, "report.md"))
	for _, f := range files {
		if strings.HasSuffix(f, ".png") && !strings.Contains(string(rep), "("+f+")") {
			t.Errorf("report.md does not show %s", f)
		}
	}
}

func TestRunShippedConfigs(t *testing.T) {
	probeFiles := []string{"predictions.csv", "head.json", "splits.json", "sweep.png", "confusion.png", "pca.png"}
	tests := []struct {
		config string
		needs  func(t *testing.T)
		check  func(t *testing.T, run string)
	}{
		{"extract-photos.yaml", nil, func(t *testing.T, run string) {
			checkRunFolder(t, run, "features.npz", "pca.png")
			var m struct{ Rows int }
			readJSON(t, filepath.Join(run, metricsName), &m)
			if m.Rows != 5 {
				t.Errorf("rows = %d; want the 5 demo photos", m.Rows)
			}
		}},
		{"probe-digits.yaml", func(t *testing.T) { needData(t, digitsCSV, "python3-sklearn") }, func(t *testing.T, run string) {
			checkRunFolder(t, run, probeFiles...)
			var m probeMetrics
			readJSON(t, filepath.Join(run, metricsName), &m)
			if m.NTest == 0 || m.Top1 < 0.5 || m.Top5 < m.Top1 || len(m.Confusion) != 10 || len(m.PerClass) != 10 || m.LogReg.C == 0 {
				t.Errorf("metrics = top1 %g top5 %g, %d confusion rows, C %g; want a trained 10-class probe", m.Top1, m.Top5, len(m.Confusion), m.LogReg.C)
			}
		}},
		{"compare-digits-layers.yaml", func(t *testing.T) { needData(t, digitsCSV, "python3-sklearn") }, func(t *testing.T, run string) {
			checkRunFolder(t, run, "leaderboard.csv", "compare.png")
			rows := leaderboard(t, run)
			if len(rows) != 5 {
				t.Fatalf("leaderboard has %d trials; want 5 layers", len(rows))
			}
			best, worst := rows[0]["top1"], rows[len(rows)-1]["top1"]
			t.Logf("digits, layers ranked: %v", rows)
			if best-worst < 0.05 {
				t.Errorf("top-1 from %.3f to %.3f: the layers should rank apart on digits", worst, best)
			}
			for i := 1; i <= 5; i++ {
				checkRunFolder(t, filepath.Join(run, "trials", fmt.Sprintf("%03d", i)), probeFiles...)
			}
		}},
		{"compare-fmnist-layers.yaml", func(t *testing.T) { needData(t, fmnistIDX, "dataset-fashion-mnist") }, func(t *testing.T, run string) {
			checkRunFolder(t, run, "leaderboard.csv", "compare.png")
			rows := leaderboard(t, run)
			if len(rows) != 8 {
				t.Fatalf("leaderboard has %d trials; want 4 layers x 2 methods", len(rows))
			}
			t.Logf("Fashion-MNIST, layers x method ranked: %v", rows)
			if rows[0]["top1"] < 0.7 {
				t.Errorf("best top-1 %.3f on the data the model was trained for; want >= 0.7", rows[0]["top1"])
			}
		}},
		{"finetune-fashion.yaml", func(t *testing.T) { withTorchPlugin(t, runBinary(t)) }, func(t *testing.T, run string) {
			checkRunFolder(t, run, "loss.png", "accuracy.png")
			var m struct {
				Top1   float64           `json:"top1"`
				Epochs []json.RawMessage `json:"epochs"`
			}
			readJSON(t, filepath.Join(run, metricsName), &m)
			if len(m.Epochs) != 2 {
				t.Errorf("%d epochs; want 2", len(m.Epochs))
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.config, func(t *testing.T) {
			if tt.needs != nil {
				tt.needs(t)
			}
			dir := t.TempDir()
			_, stderr, code := gozooRun(t, dir, "run", configArg(t, dir, tt.config))
			if code != 0 {
				t.Fatalf("gozoo run %s: exit %d\n%s", tt.config, code, stderr)
			}
			run := runFolder(t, stderr)
			if !strings.HasPrefix(run, filepath.Join(dir, "runs")+string(filepath.Separator)) {
				t.Errorf("run folder %s; want it under ./runs of the working directory", run)
			}
			tt.check(t, run)
		})
	}
}

// leaderboard reads leaderboard.csv as rank-ordered maps of its numbers.
func leaderboard(t *testing.T, run string) []map[string]float64 {
	t.Helper()
	f, err := os.Open(filepath.Join(run, "leaderboard.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []map[string]float64
	for _, r := range recs[1:] {
		m := map[string]float64{}
		for i, h := range recs[0] {
			if v, err := strconv.ParseFloat(r[i], 64); err == nil {
				m[h] = v
			}
		}
		out = append(out, m)
	}
	for i := 1; i < len(out); i++ {
		if out[i]["top1"] > out[i-1]["top1"] {
			t.Errorf("leaderboard not ranked by top1: %v", out)
		}
	}
	return out
}

func TestRunBadConfigs(t *testing.T) {
	needData(t, digitsCSV, "python3-sklearn")
	base := "version: 1\nkind: probe\nmodel:\n  name: resnet18_w8.gozoo_fmnist\n  layers: [layer3]\ndata:\n  path: " + digitsCSV + "\n"
	tests := []struct {
		name, config string
		sets         []string
		want         string // after "gozoo: usage: "
	}{
		{"typo", base + "probe:\n  c_mn: 0.1\n", nil, `bad.yaml:9: unknown key 'c_mn' in probe; did you mean 'c_min'?`},
		{"wrong type", base + "probe:\n  k: \"20\"\n", nil, `bad.yaml:9: probe.k must be an integer, not the string "20"; drop the quotes`},
		{"comma list", strings.Replace(base, "[layer3]", "layer1,layer3", 1), nil, `bad.yaml:5: model.layers must be a list (write [layer1,layer3], not one string)`},
		{"unknown arch", strings.Replace(base, "name: resnet18_w8.gozoo_fmnist", "arch: resnet81", 1), nil, `bad.yaml:4: sdk: unknown architecture: no plugin offers arch "resnet81"; did you mean resnet18`},
		{"no such layer", strings.Replace(base, "[layer3]", "[layer3.1.conv3]", 1), nil, `bad.yaml:5: layer "layer3.1.conv3" does not exist in resnet18_w8.gozoo_fmnist; did you mean layer3.1.conv1`},
		{"pattern matches nothing", strings.Replace(strings.Replace(base, "kind: probe", "kind: finetune", 1), "  layers: [layer3]\n", "  plugin: resnet\n", 1) +
			"finetune:\n  unfreeze: [layer5.*]\n", nil, `bad.yaml:9: pattern "layer5.*" matches no parameter of resnet18_w8.gozoo_fmnist; did you mean layer1.*`},
		{"missing data", strings.Replace(base, digitsCSV, "no-such-folder", 1), nil, `bad.yaml:7: data.path `},
		{"sweep unknown key", strings.Replace(base, "kind: probe", "kind: compare", 1) + "compare:\n  grid:\n    - key: probe.c_mx\n      values: [1, 10]\n",
			nil, `bad.yaml:10: compare.grid: unknown key 'c_mx' in probe; did you mean 'c_max'?`},
		{"sweep bad value", strings.Replace(base, "kind: probe", "kind: compare", 1) + "compare:\n  grid:\n    - key: model.layers\n      values: [[layer3], [layer9]]\n",
			nil, `bad.yaml:11: trial 2 ([model.layers=["layer9"]]): layer "layer9" does not exist`},
		{"override typo", base, []string{"--set", "probe.kk=3"}, `--set probe.kk=3: unknown key 'kk' in probe; did you mean 'k'?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(tt.config), 0o644); err != nil {
				t.Fatal(err)
			}
			_, stderr, code := gozooRun(t, dir, append([]string{"run", "bad.yaml"}, tt.sets...)...)
			lines := strings.Split(strings.TrimSpace(stderr), "\n")
			last := lines[len(lines)-1]
			if code != 2 || !strings.HasPrefix(last, "gozoo: usage: "+tt.want) {
				t.Errorf("exit %d, last line\n  %s\nwant exit 2 and\n  gozoo: usage: %s...", code, last, tt.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
				t.Errorf("a bad config left %s", filepath.Join(dir, "runs"))
			}
		})
	}
}

func pythonSklearn(t *testing.T) string {
	t.Helper()
	py := os.Getenv("GOZOO_PYTHON")
	if py == "" {
		py = "/usr/bin/python3"
	}
	if out, err := exec.Command(py, "-c", "import sklearn, numpy").CombinedOutput(); err != nil {
		testenv.Missing(t, "scikit-learn", "apt-get install python3-sklearn (make setup does): "+strings.TrimSpace(string(out)))
	}
	return py
}

// TestProbeMatchesSklearn runs the probe config and checks it against
// scikit-learn's LogisticRegression on the same features, splits and
// regularization values (test top-1 within 1 point), and the knn
// predictions against numpy's, row for row.
func TestProbeMatchesSklearn(t *testing.T) {
	needData(t, digitsCSV, "python3-sklearn")
	py := pythonSklearn(t)
	dir := t.TempDir()
	cfg := configArg(t, dir, "probe-digits.yaml")
	type oracle struct {
		Top1    float64   `json:"top1"`
		C       float64   `json:"c"`
		ValAcc  []float64 `json:"val_acc"`
		KNNPred []int     `json:"knn_pred"`
		KNNTop1 float64   `json:"knn_top1"`
	}
	for _, layers := range []string{"[avgpool]", "[layer2]"} {
		_, stderr, code := gozooRun(t, dir, "run", cfg, "--set", "data.limit=900", "--set", "model.layers="+layers, "--set", "probe.method=knn")
		if code != 0 {
			t.Fatalf("gozoo run: exit %d\n%s", code, stderr)
		}
		run := runFolder(t, stderr)
		out, err := exec.Command(py, "testdata/probe_oracle.py", run).Output()
		if err != nil {
			t.Fatalf("probe_oracle.py: %v", err)
		}
		var o oracle
		if err := json.Unmarshal(out, &o); err != nil {
			t.Fatalf("oracle output %q: %v", out, err)
		}
		var m probeMetrics
		readJSON(t, filepath.Join(run, metricsName), &m)
		t.Logf("%s: gozoo logreg top-1 %.4f at C=%.4g; scikit-learn %.4f at C=%.4g (validation %v vs %v); knn %.4f vs numpy %.4f",
			layers, m.LogReg.Top1, m.LogReg.C, o.Top1, o.C, sweepAccs(m), o.ValAcc, m.KNN.Top1, o.KNNTop1)
		if math.Abs(m.LogReg.Top1-o.Top1) > 0.01 {
			t.Errorf("%s: logreg test top-1 %.4f; scikit-learn %.4f: more than 1 point apart", layers, m.LogReg.Top1, o.Top1)
		}
		preds := predictions(t, filepath.Join(run, "predictions.csv"))
		if !reflect.DeepEqual(preds, o.KNNPred) {
			t.Errorf("%s: knn predictions differ from numpy's:\n%v\n%v", layers, preds, o.KNNPred)
		}
		if m.KNN.Top1 != o.KNNTop1 {
			t.Errorf("%s: knn top-1 %v; numpy %v", layers, m.KNN.Top1, o.KNNTop1)
		}
	}
}

func sweepAccs(m probeMetrics) []float64 {
	var out []float64
	for _, p := range m.LogReg.Sweep {
		out = append(out, p.ValAcc)
	}
	return out
}

func predictions(t *testing.T, path string) []int {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var out []int
	for _, r := range recs[1:] {
		p, _ := strconv.Atoi(r[3])
		out = append(out, p)
	}
	return out
}

// TestRunReproducesAndRunsCommands reruns a run folder's resolved config
// and expects the same metrics.json, timings aside (no tolerance: same
// seed, same features from the cache, a deterministic solver), then
// checks runs list and runs compare on the two folders.
func TestRunReproducesAndRunsCommands(t *testing.T) {
	needData(t, digitsCSV, "python3-sklearn")
	dir := t.TempDir()
	cfg := configArg(t, dir, "probe-digits.yaml")
	stdout, stderr, code := gozooRun(t, dir, "run", cfg, "--dry-run")
	if code != 0 || !strings.Contains(stdout, "trial 1/1: probe") || !strings.Contains(stdout, "avgpool (to compute)") {
		t.Fatalf("dry run: exit %d\n%s%s", code, stdout, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
		t.Error("--dry-run made a runs folder")
	}
	stdout, _, _ = gozooRun(t, dir, "run", cfg, "--print-config", "--set", "probe.k=7")
	if !strings.Contains(stdout, "k: 7\n") || !strings.Contains(stdout, "runs_dir: "+filepath.Join(dir, "runs")) {
		t.Errorf("--print-config:\n%s", stdout)
	}
	_, stderr, code = gozooRun(t, dir, "run", cfg)
	if code != 0 {
		t.Fatalf("gozoo run: exit %d\n%s", code, stderr)
	}
	first := runFolder(t, stderr)
	rel, _ := filepath.Rel(dir, filepath.Join(first, resolvedName))
	_, stderr, code = gozooRun(t, dir, "run", rel)
	if code != 0 {
		t.Fatalf("gozoo run %s: exit %d\n%s", rel, code, stderr)
	}
	second := runFolder(t, stderr)
	if second == first {
		t.Fatalf("the rerun reused %s", first)
	}
	load := func(run string) map[string]any {
		var m map[string]any
		readJSON(t, filepath.Join(run, metricsName), &m)
		delete(m, "timings_s")
		return m
	}
	if a, b := load(first), load(second); !reflect.DeepEqual(a, b) {
		t.Errorf("rerun metrics differ:\n%v\n%v", a, b)
	}
	stdout, _, code = gozooRun(t, dir, "runs", "list")
	if code != 0 || strings.Count(stdout, "probe-digits-") != 2 || !strings.Contains(stdout, "finished") {
		t.Errorf("runs list: exit %d\n%s", code, stdout)
	}
	stdout, _, code = gozooRun(t, dir, "runs", "compare", filepath.Base(first), filepath.Base(second))
	if code != 0 || !strings.Contains(stdout, "none: the resolved configs are equal") || !regexp.MustCompile(`(?m)^\s+top1\s+\S+\s+\S+\s+\+0\s*$`).MatchString(stdout) {
		t.Errorf("runs compare: exit %d\n%s", code, stdout)
	}
}

// TestCompareKillAndResume kills gozoo run during a sweep, resumes it,
// interrupts the resumed run with Ctrl-C (SIGINT) and resumes again:
// finished trials are never rerun and cached features never recomputed.
func TestCompareKillAndResume(t *testing.T) {
	needData(t, digitsCSV, "python3-sklearn")
	bin := runBinary(t)
	dir := t.TempDir()
	cfg := configArg(t, dir, "compare-digits-layers.yaml")
	// start runs gozoo and sends sig once stderr shows a trial finished.
	start := func(sig syscall.Signal, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GOZOO_ORT_LIB="+ort.LibraryPath(), "GOZOO_OFFLINE=1")
		pipe, err := cmd.StderrPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var buf strings.Builder
		sc := bufio.NewScanner(pipe)
		sent := false
		for sc.Scan() {
			line := sc.Text()
			buf.WriteString(line + "\n")
			if !sent && strings.Contains(line, ": finished") && strings.HasPrefix(line, "trial ") {
				cmd.Process.Signal(sig)
				sent = true
			}
		}
		err = cmd.Wait()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		}
		return buf.String(), code
	}
	out1, _ := start(syscall.SIGKILL, "run", cfg)
	run := runFolder(t, out1)
	done1 := strings.Count(out1, ": finished\n")
	if done1 == 0 || done1 == 5 {
		t.Fatalf("killed run finished %d of 5 trials; want some\n%s", done1, out1)
	}
	cache, _ := filepath.Glob(filepath.Join(dir, "runs", ".cache", "features", "*.npz"))
	if len(cache) != 4 {
		t.Fatalf("%d cached feature files; want 4 layers", len(cache))
	}
	mtimes := map[string]time.Time{}
	for _, p := range cache {
		st, _ := os.Stat(p)
		mtimes[p] = st.ModTime()
	}
	// A changed config is refused.
	_, stderr, code := gozooRun(t, dir, "run", cfg, "--resume", run, "--set", "probe.k=3")
	if code != 2 || !strings.Contains(stderr, "the resolved config changed") {
		t.Errorf("resume with a changed config: exit %d\n%s", code, stderr)
	}
	relRun, _ := filepath.Rel(dir, run)
	out2, code2 := start(syscall.SIGINT, "run", cfg, "--resume", relRun)
	skipped2 := strings.Count(out2, "finished earlier, skipped")
	if skipped2 != done1 || strings.Contains(out2, "features: computing") {
		t.Errorf("first resume skipped %d trials (want %d) or recomputed features:\n%s", skipped2, done1, out2)
	}
	var st status
	readJSON(t, filepath.Join(run, statusName), &st)
	if strings.Count(out2, ": finished\n") < 5-done1 {
		if code2 != 130 || st.Status != "interrupted" || !strings.Contains(out2, "finish it with: gozoo run --resume") {
			t.Errorf("Ctrl-C: exit %d, status %q; want 130, interrupted and a --resume hint\n%s", code2, st.Status, out2)
		}
		_, stderr, code = gozooRun(t, dir, "run", "--resume", relRun)
		if code != 0 {
			t.Fatalf("second resume: exit %d\n%s", code, stderr)
		}
		if strings.Contains(stderr, "features: computing") || strings.Count(stderr, "finished earlier, skipped")+strings.Count(stderr, ": finished\n") != 5 {
			t.Errorf("second resume:\n%s", stderr)
		}
	}
	checkRunFolder(t, run, "leaderboard.csv", "compare.png")
	if rows := leaderboard(t, run); len(rows) != 5 {
		t.Errorf("leaderboard has %d trials; want 5", len(rows))
	}
	for p, mt := range mtimes {
		if st, err := os.Stat(p); err != nil || !st.ModTime().Equal(mt) {
			t.Errorf("cached features %s rewritten", p)
		}
	}
}

func TestRunFlags(t *testing.T) {
	var got *RunOptions
	cmd := NewCmdRun(&Factory{}, func(_ context.Context, o *RunOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"c.yaml", "--set", "probe.k=3", "--set", "model.layers=[a,b]", "--resume", "runs/x", "--dry-run"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Config != "c.yaml" || !reflect.DeepEqual(got.Sets, []string{"probe.k=3", "model.layers=[a,b]"}) || got.Resume != "runs/x" || !got.DryRun || got.PrintConfig {
		t.Errorf("options = %+v", got)
	}
	// --set keeps commas: a list value is one argument.
	if len(got.Sets) != 2 {
		t.Errorf("--set split a value: %q", got.Sets)
	}
}

// TestRunInProcess runs a small probe through the command in this
// process (so the race detector sees run's code) and checks the run
// folder and that --print-config output reloads to the same config.
func TestRunInProcess(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	needData(t, digitsCSV, "python3-sklearn")
	plugins := testenv.BuildPlugin(t, "resnet")
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	t.Setenv("GOZOO_OFFLINE", "1")
	runs := t.TempDir()
	t.Setenv("GOZOO_RUNS_DIR", runs)
	cfg := filepath.Join(repoRoot(t), "configs", "probe-digits.yaml")
	args := []string{"--plugin-path", plugins, "run", cfg, "--set", "data.limit=200", "--set", "probe.steps=3", "--set", "probe.refine=1"}
	stdout, _, err := execute(t, &Factory{}, append(args, "--print-config")...)
	if err != nil {
		t.Fatal(err)
	}
	resolved := filepath.Join(t.TempDir(), "resolved.yaml")
	os.WriteFile(resolved, []byte(stdout), 0o644)
	again, _, err := execute(t, &Factory{}, "--plugin-path", plugins, "run", resolved, "--print-config")
	if err != nil || again != stdout {
		t.Errorf("--print-config of the printed config differs (%v):\n%s\n%s", err, stdout, again)
	}
	_, stderr, err := execute(t, &Factory{}, args...)
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	run := runFolder(t, stderr)
	if filepath.Dir(run) != runs {
		t.Errorf("run folder %s; want it in $GOZOO_RUNS_DIR %s", run, runs)
	}
	checkRunFolder(t, run, "predictions.csv", "sweep.png", "confusion.png", "pca.png")
	var prov provenance
	readJSON(t, filepath.Join(run, "provenance.json"), &prov)
	if len(prov.Models) != 1 || prov.Models[0].WeightsSHA256 == "" || prov.Models[0].PluginSHA256 == "" || prov.Models[0].Preprocessing == "" || prov.ORTVersion == "" {
		t.Errorf("provenance = %+v", prov)
	}
	over, _ := os.ReadFile(filepath.Join(run, overridesName))
	if !strings.Contains(string(over), "data.limit=200") || !strings.Contains(string(over), "GOZOO_RUNS_DIR="+runs) {
		t.Errorf("overrides.txt = %q", over)
	}
}

// FuzzReadDigitsCSV feeds arbitrary bytes, gzipped, to the digits reader:
// an error or 8x8 images with labels, never a panic.
func FuzzReadDigitsCSV(f *testing.F) {
	row := strings.Repeat("0,", 64) + "3\n"
	f.Add([]byte(row))
	f.Add([]byte(strings.Repeat("16,", 64) + "9\n" + row))
	f.Add([]byte("1,2,3\n"))
	f.Add([]byte(strings.Repeat("17,", 64) + "1\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "digits.csv.gz")
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		imgs, labels, err := readDigitsCSV(p)
		if err != nil {
			return
		}
		if len(imgs) == 0 || len(imgs) != len(labels) {
			t.Fatalf("%d images, %d labels", len(imgs), len(labels))
		}
		for _, im := range imgs {
			if len(im) != 64 {
				t.Fatalf("image of %d pixels", len(im))
			}
		}
	})
}

// TestDryRunFinetuneSweep plans an lr x unfrozen-layers sweep of
// fine-tunes: every pattern is checked against the plugin's parameters
// and each trial says how many parameters it trains; nothing runs.
func TestDryRunFinetuneSweep(t *testing.T) {
	dir := t.TempDir()
	cfg := `version: 1
kind: compare
model:
  name: resnet18_w8.gozoo_fmnist
  plugin: resnet
data:
  path: ` + filepath.Join(repoRoot(t), "scripts/demo/images/fashion") + `
finetune:
  freeze: ["*"]
compare:
  trial: finetune
  grid:
    - key: finetune.lr
      values: [0.01, 0.001]
    - key: finetune.unfreeze
      values: [[fc.*], [layer4.*, fc.*]]
`
	os.WriteFile(filepath.Join(dir, "sweep.yaml"), []byte(cfg), 0o644)
	stdout, stderr, code := gozooRun(t, dir, "run", "sweep.yaml", "--dry-run")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, stderr)
	}
	counts := regexp.MustCompile(`(?m)^trial (\d)/4: finetune .*: (\d+) of (\d+) parameters trainable$`).FindAllStringSubmatch(stdout, -1)
	if len(counts) != 4 {
		t.Fatalf("want 4 planned trials with trainable counts:\n%s", stdout)
	}
	if counts[0][2] != "2" || counts[1][2] == "2" || counts[0][3] != counts[1][3] {
		t.Errorf("trainable: fc.* %s, layer4.*+fc.* %s of %s; want 2 (weight, bias) and more", counts[0][2], counts[1][2], counts[0][3])
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
		t.Error("--dry-run made a runs folder")
	}
}
