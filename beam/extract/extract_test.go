package extract

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem/memfs"
	_ "github.com/apache/beam/sdks/v2/go/pkg/beam/runners/prism"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo/dataset"
	"github.com/gozoo/gozoo/zoo/featfile"
)

// The tests run the pipeline on prism in this process, with real
// plugins on the real ONNX Runtime, and compare its merged output with
// what `gozoo extract` writes for the same inputs.

const (
	model        = "resnet18_w8.gozoo_fmnist" // embedded weights: runs offline
	fashionTest  = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
	fashionCount = 300
	// repoRoot is the core module, from this package's folder.
	repoRoot = "../.."
)

var layers = []string{"avgpool", "fc"}

// missing skips t, or fails it under GOZOO_REQUIRE_ALL=1, naming what to
// install.
func missing(t testing.TB, what, hint string) {
	t.Helper()
	if os.Getenv("GOZOO_REQUIRE_ALL") == "1" {
		t.Fatalf("%s is missing and GOZOO_REQUIRE_ALL=1: %s", what, hint)
	}
	t.Skipf("%s is missing: %s", what, hint)
}

// env is what every test shares: the gozoo binary and plugins built from
// this checkout, and a folder of real images with a labelled list.
type env struct {
	gozoo, plugins string
	images, list   string // the folder and the list naming every image in it
	n              int
	ref            *featfile.File // gozoo extract on list
}

var (
	envOnce sync.Once
	envErr  error
	envSkip string
	shared  env
	tmpRoot string
)

func TestMain(m *testing.M) {
	flag.Parse()
	beam.Init()
	code := m.Run()
	if tmpRoot != "" {
		os.RemoveAll(tmpRoot)
	}
	os.Exit(code)
}

func setup(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("builds gozoo and a plugin and runs pipelines on prism: not with -short")
	}
	envOnce.Do(func() {
		if _, err := os.Stat(ort.LibraryPath()); err != nil {
			envSkip = "the ONNX Runtime library|" + ort.LibraryPath() + ": run `make setup` (scripts/install-onnxruntime.sh) or set GOZOO_ORT_LIB"
			return
		}
		if _, err := os.Stat(fashionTest); err != nil {
			envSkip = "Fashion-MNIST|apt-get install dataset-fashion-mnist (make setup does)"
			return
		}
		envErr = shared.build()
	})
	if envSkip != "" {
		what, hint, _ := strings.Cut(envSkip, "|")
		missing(t, what, hint)
	}
	if envErr != nil {
		t.Fatal(envErr)
	}
	return &shared
}

func (e *env) build() error {
	var err error
	if tmpRoot, err = os.MkdirTemp("", "gozoo-beam-test-"); err != nil {
		return err
	}
	e.plugins = filepath.Join(tmpRoot, "plugins")
	e.gozoo = filepath.Join(tmpRoot, "gozoo")
	for _, b := range [][2]string{{e.gozoo, "./cmd/gozoo"}, {filepath.Join(e.plugins, "gozoo-backbone-resnet"), "./plugins/resnet/cmd/gozoo-backbone-resnet"}} {
		cmd := exec.Command("go", "build", "-C", repoRoot, "-o", b[0], b[1])
		if out, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	// The demo photos (JPEG and PNG, of several sizes) and real
	// Fashion-MNIST images as PNG, in one folder; the list labels them.
	e.images = filepath.Join(tmpRoot, "images")
	if err := os.MkdirAll(e.images, 0o755); err != nil {
		return err
	}
	var lines []string
	photos, _ := filepath.Glob(filepath.Join(repoRoot, "scripts/demo/images/photos/*"))
	if len(photos) == 0 {
		return errors.New("no demo photos in scripts/demo/images/photos")
	}
	for i, p := range photos {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		name := "photo_" + filepath.Base(p)
		if err := os.WriteFile(filepath.Join(e.images, name), b, 0o644); err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("%s\t%d", name, 10+i))
	}
	ds, err := dataset.OpenKind(fashionTest, "idx")
	if err != nil {
		return err
	}
	for _, s := range ds.Samples[:fashionCount] {
		img, err := s.Decode()
		if err != nil {
			return err
		}
		g := image.NewGray(image.Rect(0, 0, img.W, img.H))
		for j := range g.Pix {
			g.Pix[j] = img.Pix[3*j]
		}
		name := fmt.Sprintf("fmnist_%04d.png", s.Index)
		f, err := os.Create(filepath.Join(e.images, name))
		if err != nil {
			return err
		}
		err = errors.Join(png.Encode(f, g), f.Close())
		if err != nil {
			return err
		}
		lines = append(lines, fmt.Sprintf("images/%s\t%d", name, s.Label))
	}
	for i := range photos {
		lines[i] = "images/" + lines[i]
	}
	e.n = len(lines)
	e.list = filepath.Join(tmpRoot, "list.txt")
	if err := os.WriteFile(e.list, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		return err
	}
	ref := filepath.Join(tmpRoot, "ref.npz")
	if err := e.gozooRun("extract", "--model", model, "--layers", strings.Join(layers, ","), "--out", ref, e.list); err != nil {
		return err
	}
	e.ref, err = featfile.Load(ref)
	return err
}

// gozooRun runs the gozoo binary with this checkout's plugins.
func (e *env) gozooRun(args ...string) error {
	cmd := exec.Command(e.gozoo, append([]string{"--plugin-path", e.plugins}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("gozoo %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return nil
}

// config is the extraction the tests run, writing under dir.
func (e *env) config(t *testing.T, dir string, inputs ...string) Config {
	t.Helper()
	c := Config{Layers: layers, Inputs: inputs, Output: filepath.Join(dir, "feats"), Format: "npz", BatchSize: 24,
		Workers: 2, Threads: 1, OnError: "fail", DecodeWorkers: 2, DecodeMemory: 1 << 30, Attempts: 3, PluginPath: []string{e.plugins}}
	if err := c.Resolve(model, nil); err != nil {
		t.Fatal(err)
	}
	return c
}

// merge joins a run's shards with gozoo features merge and loads the
// result.
func (e *env) merge(t *testing.T, c Config) *featfile.File {
	t.Helper()
	out := filepath.Join(filepath.Dir(c.Output), "merged."+c.Format)
	if err := e.gozooRun("features", "merge", "--out", out, c.ManifestPath()); err != nil {
		t.Fatal(err)
	}
	f, err := featfile.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// sameRows fails t unless got has want's rows in want's order: the same
// paths and labels, features within 1e-6, the same skipped inputs,
// classes and notes.
func sameRows(t *testing.T, got, want *featfile.File) {
	t.Helper()
	if !slices.Equal(got.Paths, want.Paths) {
		t.Fatalf("merged paths (%d) differ from gozoo extract's (%d); first: %q vs %q", len(got.Paths), len(want.Paths), first(got.Paths), first(want.Paths))
	}
	if !slices.Equal(got.Labels, want.Labels) {
		t.Errorf("merged labels differ from gozoo extract's")
	}
	if !slices.Equal(got.Names, want.Names) {
		t.Errorf("merged layers %q; gozoo extract's %q", got.Names, want.Names)
	}
	for _, l := range want.Names {
		a, b := got.Layers[l], want.Layers[l]
		if !slices.Equal(a.Shape, b.Shape) {
			t.Fatalf("layer %s: shape %v; gozoo extract's %v", l, a.Shape, b.Shape)
		}
		worst, at := 0.0, 0
		for i := range a.Float32 {
			if d := math.Abs(float64(a.Float32[i] - b.Float32[i])); d > worst {
				worst, at = d, i
			}
		}
		t.Logf("layer %s: max |difference| from gozoo extract %g over %d rows", l, worst, len(got.Paths))
		if worst > 1e-6 {
			row := at / (len(a.Float32) / len(got.Paths))
			t.Errorf("layer %s: max |difference| %g at row %d (%s); want <= 1e-6", l, worst, row, got.Paths[row])
		}
	}
	if !slices.Equal(got.Skipped, want.Skipped) {
		t.Errorf("merged skipped %v; gozoo extract's %v", got.Skipped, want.Skipped)
	}
	if !slices.Equal(got.ModelClasses, want.ModelClasses) || !slices.Equal(got.Classes, want.Classes) {
		t.Errorf("merged classes %q/%q; gozoo extract's %q/%q", got.Classes, got.ModelClasses, want.Classes, want.ModelClasses)
	}
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// shardFiles lists the files beside the output prefix, but the manifest.
func shardFiles(t *testing.T, c Config) []string {
	t.Helper()
	all, err := filepath.Glob(c.Output + "-*")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, p := range all {
		if p != c.ManifestPath() {
			out = append(out, filepath.Base(p))
		}
	}
	return out
}

// checkShards fails t unless the folder holds exactly the manifest's
// shards: nothing duplicated, no temporary file left.
func checkShards(t *testing.T, c Config, m *featfile.Manifest) {
	t.Helper()
	var want []string
	for _, s := range m.Shards {
		if s.File != "" {
			want = append(want, s.File)
		}
	}
	got := shardFiles(t, c)
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("files beside %s: %q; want exactly the manifest's shards %q", c.Output, got, want)
	}
}

func TestMatchesGozooExtract(t *testing.T) {
	e := setup(t)
	t.Run("list, 2 workers", func(t *testing.T) {
		c := e.config(t, t.TempDir(), e.list)
		var mu sync.Mutex
		workers := map[*worker]int{}
		setFault(func(point string, w *worker, _ *Batch, _ int) error {
			mu.Lock()
			defer mu.Unlock()
			if point == "extract" {
				workers[w]++
			}
			return nil
		})
		m, err := Run(context.Background(), "prism", c)
		setFault(nil)
		if err != nil {
			t.Fatal(err)
		}
		// Two groups of batches, each on one DoFn instance's model,
		// which prism runs side by side.
		if len(workers) != 2 {
			t.Errorf("%d models extracted the batches (%v); want 2 (--workers 2)", len(workers), slices.Collect(maps.Values(workers)))
		}
		if m.Inputs != e.n || m.Rows != e.n || len(m.Shards) != (e.n+23)/24 {
			t.Errorf("manifest: %d inputs, %d rows, %d shards; want %d, %d, %d", m.Inputs, m.Rows, len(m.Shards), e.n, e.n, (e.n+23)/24)
		}
		checkShards(t, c, m)
		sameRows(t, e.merge(t, c), e.ref)
	})
	t.Run("glob, runner spreads, safetensors", func(t *testing.T) {
		dir := t.TempDir()
		ref := filepath.Join(dir, "ref.npz")
		if err := e.gozooRun("extract", "--model", model, "--layers", strings.Join(layers, ","), "--out", ref, e.images); err != nil {
			t.Fatal(err)
		}
		want, err := featfile.Load(ref)
		if err != nil {
			t.Fatal(err)
		}
		c := e.config(t, dir, filepath.Join(e.images, "*"))
		c.Workers, c.Format, c.BatchSize = 0, "safetensors", 40
		m, err := Run(context.Background(), "prism", c)
		if err != nil {
			t.Fatal(err)
		}
		checkShards(t, c, m)
		sameRows(t, e.merge(t, c), want)
	})
}

// TestRetriedBatch fails the first attempt at three batches at three
// points: a shard already in place, a shard written under its temporary
// name, and a plugin killed before its forward pass. The retries replace
// the shards, and the merged output equals gozoo extract's: no row lost,
// none twice.
func TestRetriedBatch(t *testing.T) {
	e := setup(t)
	c := e.config(t, t.TempDir(), e.list)
	var mu sync.Mutex
	attempts := map[int]int{}
	killed := false
	setFault(func(point string, w *worker, b *Batch, attempt int) error {
		mu.Lock()
		defer mu.Unlock()
		if point == "extract" {
			attempts[b.Start]++
		}
		if attempt > 1 {
			return nil
		}
		switch {
		case b.Start == 24 && point == "published":
			return errors.New("injected: worker lost after publishing its shard")
		case b.Start == 48 && point == "written":
			return errors.New("injected: worker lost while writing its shard")
		case b.Start == 96 && point == "extract":
			// The forward pass then meets a dead plugin: the host
			// restarts it and repeats the call, or the attempt fails
			// and is retried.
			pid, err := w.host.PID(w.plugin)
			if err != nil {
				return err
			}
			killed = true
			return syscall.Kill(pid, syscall.SIGKILL)
		}
		return nil
	})
	defer setFault(nil)
	m, err := Run(context.Background(), "prism", c)
	if err != nil {
		t.Fatal(err)
	}
	for _, start := range []int{24, 48} {
		if attempts[start] != 2 {
			t.Errorf("batch at %d ran %d times; want 2 (a failed attempt and its retry)", start, attempts[start])
		}
	}
	if !killed {
		t.Fatal("the plugin was not killed")
	}
	t.Logf("batch at 96, whose plugin was killed before its forward pass, ran %d times", attempts[96])
	if attempts[0] != 1 {
		t.Errorf("batch at 0 ran %d times; want once", attempts[0])
	}
	checkShards(t, c, m)
	sameRows(t, e.merge(t, c), e.ref)
}

// TestRerunAfterFailedJob: with one attempt a batch, an injected fault
// fails the job (prism retries no bundle) after some shards are in
// place; the same job run again replaces them and completes, and the
// merged output equals gozoo extract's.
func TestRerunAfterFailedJob(t *testing.T) {
	e := setup(t)
	c := e.config(t, t.TempDir(), e.list)
	c.Attempts = 1
	setFault(func(point string, _ *worker, b *Batch, _ int) error {
		if b.Start == 48 && point == "published" {
			return errors.New("injected: worker lost after publishing its shard")
		}
		return nil
	})
	_, err := Run(context.Background(), "prism", c)
	setFault(nil)
	if err == nil || !strings.Contains(err.Error(), "injected: worker lost") {
		t.Fatalf("Run with a failing batch and one attempt = %v; want the injected error", err)
	}
	if _, err := os.Stat(c.ManifestPath()); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a failed job wrote its manifest (%v)", err)
	}
	if len(shardFiles(t, c)) == 0 {
		t.Fatal("the failed job left no shard: the rerun would prove nothing")
	}
	m, err := Run(context.Background(), "prism", c)
	if err != nil {
		t.Fatal(err)
	}
	checkShards(t, c, m)
	sameRows(t, e.merge(t, c), e.ref)
}

func TestCorruptImages(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	good, _ := filepath.Glob(filepath.Join(e.images, "fmnist_000*.png"))
	lines := []string{}
	for _, p := range good[:6] {
		lines = append(lines, p)
	}
	truncated := filepath.Join(dir, "truncated.png")
	b, _ := os.ReadFile(good[0])
	os.WriteFile(truncated, b[:len(b)/2], 0o644)
	garbage := filepath.Join(dir, "garbage.jpg")
	os.WriteFile(garbage, []byte("not an image at all"), 0o644)
	lines = slices.Insert(lines, 2, truncated)
	lines = append(lines, garbage)
	list := filepath.Join(dir, "list.txt")
	os.WriteFile(list, []byte(strings.Join(lines, "\n")+"\n"), 0o644)

	t.Run("skip", func(t *testing.T) {
		ref := filepath.Join(dir, "ref.npz")
		if err := e.gozooRun("extract", "--model", model, "--layers", strings.Join(layers, ","), "--on-error", "skip", "--out", ref, list); err != nil {
			t.Fatal(err)
		}
		want, err := featfile.Load(ref)
		if err != nil {
			t.Fatal(err)
		}
		c := e.config(t, filepath.Join(dir, "skip"), list)
		c.OnError, c.BatchSize = "skip", 3
		m, err := Run(context.Background(), "prism", c)
		if err != nil {
			t.Fatal(err)
		}
		var skipped []string
		for _, s := range m.Shards {
			for _, k := range s.Skipped {
				skipped = append(skipped, k.Path)
				if !strings.Contains(k.Error, k.Path) {
					t.Errorf("manifest skip %q: error %q does not name the file", k.Path, k.Error)
				}
			}
		}
		if !slices.Equal(skipped, []string{truncated, garbage}) || m.Skipped != 2 || m.Rows != 6 {
			t.Errorf("manifest skipped %q (%d), rows %d; want %q and 6 rows", skipped, m.Skipped, m.Rows, []string{truncated, garbage})
		}
		checkShards(t, c, m)
		sameRows(t, e.merge(t, c), want)
	})
	t.Run("fail", func(t *testing.T) {
		c := e.config(t, filepath.Join(dir, "fail"), list)
		c.BatchSize = 3
		_, err := Run(context.Background(), "prism", c)
		if err == nil || !strings.Contains(err.Error(), truncated) || !strings.Contains(err.Error(), "--on-error skip") {
			t.Fatalf("Run with --on-error fail = %v; want an error naming %s and --on-error skip", err, truncated)
		}
		if _, err := os.Stat(c.ManifestPath()); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("a failed job wrote its manifest (%v)", err)
		}
	})
}

// setFault sets the fault hook (nil: none).
func setFault(f faultFunc) {
	if f == nil {
		faultHook.Store(nil)
		return
	}
	faultHook.Store(&f)
}

// TestBeamFilesystems reads the images and writes the shards and the
// manifest through a Beam filesystem (memfs, which the pipeline shares
// with this process on prism): the paths that go through Beam's
// filesystems instead of local files, as gs:// does on Dataflow.
func TestBeamFilesystems(t *testing.T) {
	e := setup(t)
	dir := t.TempDir()
	// The same images locally (for gozoo extract) and in memfs.
	names, _ := filepath.Glob(filepath.Join(e.images, "*"))
	names = names[:40]
	var local, remote []string
	for i, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		memfs.Write("memfs://imgs/"+filepath.Base(p), b)
		local = append(local, fmt.Sprintf("%s\t%d", p, i%3))
		remote = append(remote, fmt.Sprintf("%s\t%d", filepath.Base(p), i%3))
	}
	os.WriteFile(filepath.Join(dir, "garbage.jpg"), []byte("not an image"), 0o644)
	memfs.Write("memfs://imgs/garbage.jpg", []byte("not an image"))
	local = slices.Insert(local, 7, filepath.Join(dir, "garbage.jpg")+"\t1")
	remote = slices.Insert(remote, 7, "garbage.jpg\t1")
	listFile := filepath.Join(dir, "list.txt")
	os.WriteFile(listFile, []byte(strings.Join(local, "\n")+"\n"), 0o644)
	memfs.Write("memfs://imgs/list.txt", []byte(strings.Join(remote, "\n")+"\n"))

	ref := filepath.Join(dir, "ref.npz")
	if err := e.gozooRun("extract", "--model", model, "--layers", strings.Join(layers, ","), "--on-error", "skip", "--out", ref, listFile); err != nil {
		t.Fatal(err)
	}
	want, err := featfile.Load(ref)
	if err != nil {
		t.Fatal(err)
	}
	toRemote := func(p string) string {
		p = strings.ReplaceAll(p, e.images+"/", "memfs://imgs/")
		return strings.ReplaceAll(p, dir+"/", "memfs://imgs/")
	}
	for i := range want.Paths {
		want.Paths[i] = toRemote(want.Paths[i])
	}
	for i := range want.Skipped {
		want.Skipped[i] = featfile.Skip{Path: toRemote(want.Skipped[i].Path), Error: toRemote(want.Skipped[i].Error)}
	}

	c := e.config(t, dir, "memfs://imgs/list.txt")
	c.Output, c.OnError, c.BatchSize = "memfs://out/feats", "skip", 16
	m, err := Run(context.Background(), "prism", c)
	if err != nil {
		t.Fatal(err)
	}
	// Fetch the shards and the manifest, as one would from a bucket.
	got := filepath.Join(dir, "got")
	os.MkdirAll(got, 0o755)
	files, err := list(context.Background(), "memfs://out/*")
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(m.Shards)+1 {
		t.Errorf("memfs://out holds %q; want the %d shards and the manifest", files, len(m.Shards))
	}
	for _, f := range files {
		b, err := readFile(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(got, baseName(f)), b, 0o644)
	}
	c.Output = filepath.Join(got, "feats")
	sameRows(t, e.merge(t, c), want)
}
