package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/torch"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
	"github.com/gozoo/gozoo/zoo/featfile"
)

const fashionTrain = "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz"

// fashionClasses are the Fashion-MNIST labels the tree holds, by label.
var fashionClasses = map[int64]string{1: "trouser", 7: "sneaker", 8: "bag"}

// install builds gozoo and the resnet plugin into dir/bin, with the torch
// plugin's manifest in dir/bin/plugins, as make build lays them out, and
// returns the gozoo binary's path.
func install(t *testing.T, dir string) string {
	t.Helper()
	py := testenv.Python(t)
	testenv.ORT(t, ort.LibraryPath())
	bin := filepath.Join(dir, "bin")
	plugins := filepath.Join(bin, "plugins")
	for _, b := range [][2]string{
		{filepath.Join(bin, "gozoo"), "github.com/gozoo/gozoo/cmd/gozoo"},
		{filepath.Join(plugins, "gozoo-backbone-resnet"), "github.com/gozoo/gozoo/plugins/resnet/cmd/gozoo-backbone-resnet"},
	} {
		if out, err := exec.Command("go", "build", "-o", b[0], b[1]).CombinedOutput(); err != nil {
			t.Fatalf("go build %s: %v\n%s", b[1], err, out)
		}
	}
	if _, err := torch.WriteManifest(plugins, py, torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "2"}); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(bin, "gozoo")
}

// writeTree writes n real Fashion-MNIST images per class of
// fashionClasses into root/CLASS as PNG, starting at image first of the
// training split, named as names maps the class (identity when nil).
func writeTree(t *testing.T, root string, first, n int, names map[string]string) {
	t.Helper()
	if _, err := os.Stat(fashionTrain); err != nil {
		testenv.Missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist (make setup does)")
	}
	ds, err := dataset.OpenKind(fashionTrain, "idx")
	if err != nil {
		t.Fatal(err)
	}
	count := map[int64]int{}
	for _, s := range ds.Samples[first:] {
		name, ok := fashionClasses[s.Label]
		if !ok || count[s.Label] == n {
			continue
		}
		count[s.Label]++
		if names != nil {
			name = names[name]
		}
		img, err := s.Decode()
		if err != nil {
			t.Fatal(err)
		}
		g := image.NewGray(image.Rect(0, 0, img.W, img.H))
		for i := range g.Pix {
			g.Pix[i] = img.Pix[3*i]
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, g); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%05d.png", s.Index)), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		if len(count) == len(fashionClasses) && count[1] == n && count[7] == n && count[8] == n {
			break
		}
	}
}

// user runs gozoo in dir as a user types it and returns stdout and stderr.
func user(t *testing.T, gozoo, dir string, wantOK bool, args ...string) (string, string) {
	t.Helper()
	cmd := exec.Command(gozoo, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if wantOK && err != nil {
		t.Fatalf("gozoo %s: %v\n%s%s", strings.Join(args, " "), err, out.String(), errb.String())
	}
	if !wantOK && err == nil {
		t.Fatalf("gozoo %s succeeded; want an error\n%s", strings.Join(args, " "), errb.String())
	}
	t.Logf("gozoo %s\n%s%s", strings.Join(args, " "), out.String(), errb.String())
	return out.String(), errb.String()
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

// mustExist fails t unless every path (relative to dir) is a file.
func mustExist(t *testing.T, dir string, paths ...string) {
	t.Helper()
	for _, p := range paths {
		if st, err := os.Stat(filepath.Join(dir, p)); err != nil || st.IsDir() {
			t.Errorf("%s: not written where the user said (%v)", p, err)
		}
	}
}

type evalReport struct {
	Top1, Top5, MeanClassAcc float64
	Correct, Images          int
	Classes, TreeClasses     []string
	Transform                zoo.Preprocess
}

// TestWorkflow is the fine-tune workflow as a user types it, from a
// scratch working directory with relative paths and default flags:
// finetune the embedded model on a real ImageFolder tree (Go data pipeline
// with augmentation) -> eval -> extract -> bridge import -> extract
// --model. It checks that every file lands where the user said, that
// eval's top-1 equals finetune's final validation top-1 exactly, and that
// classes travel by name: eval on a tree whose classes are renamed and
// ordered otherwise gives the same accuracy, and a tree with classes the
// model does not know is refused.
func TestWorkflow(t *testing.T) {
	tmp := t.TempDir()
	gozoo := install(t, tmp)
	work := filepath.Join(tmp, "work")
	writeTree(t, filepath.Join(work, "data", "train"), 0, 20, nil)
	writeTree(t, filepath.Join(work, "data", "val"), 3000, 10, nil)
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	t.Setenv("GOZOO_CACHE", filepath.Join(tmp, "cache"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(tmp, "config"))
	t.Setenv("GOZOO_PLUGIN_PATH", "")

	_, stderr := user(t, gozoo, work, true, "finetune", "--model", zoo.DefaultModel, "--data", "data", "--out", "runs/ft", "--epochs", "2", "--lr", "0.05")
	for _, want := range []string{"transform: Grayscale(3) Resize(28, bilinear) CenterCrop(28)", "augment: " + "crop=0.08-1", "head: new 3-class head"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("finetune does not print %q", want)
		}
	}
	mustExist(t, work, "runs/ft/epoch-001.pth", "runs/ft/epoch-001.gozoo.json", "runs/ft/epoch-002.pth", "runs/ft/epoch-002.gozoo.json",
		"runs/ft/best.pth", "runs/ft/best.gozoo.json", "runs/ft/log.csv", "runs/ft/metrics.json")
	var metrics struct {
		Classes         []string
		Augment         string
		Hyperparameters map[string]any
		Best            string
		BestEpoch       int     `json:"best_epoch"`
		BestValAcc      float64 `json:"best_val_accuracy"`
		Checkpoint      string
		Epochs          []struct {
			Epoch      int
			ValAcc     float64 `json:"val_accuracy"`
			Checkpoint string
		}
	}
	readJSON(t, filepath.Join(work, "runs/ft/metrics.json"), &metrics)
	if want := []string{"bag", "sneaker", "trouser"}; !slices.Equal(metrics.Classes, want) {
		t.Errorf("metrics.json classes = %q; want the tree's %q", metrics.Classes, want)
	}
	if len(metrics.Epochs) != 2 || metrics.Checkpoint != "runs/ft/epoch-002.pth" || metrics.Best != "runs/ft/best.pth" {
		t.Fatalf("metrics.json: %d epochs, checkpoint %q, best %q; want 2, runs/ft/epoch-002.pth, runs/ft/best.pth", len(metrics.Epochs), metrics.Checkpoint, metrics.Best)
	}
	for _, k := range []string{"lr", "optimizer", "batch_size", "seed", "epochs", "weight_decay", "augment"} {
		if _, ok := metrics.Hyperparameters[k]; !ok {
			t.Errorf("metrics.json hyperparameters lack %s", k)
		}
	}
	if csv, _ := os.ReadFile(filepath.Join(work, "runs/ft/log.csv")); strings.Count(string(csv), "\n") != 3 {
		t.Errorf("log.csv = %q; want a header and 2 epochs", csv)
	}
	final := metrics.Epochs[1].ValAcc
	var card zoo.ModelCard
	readJSON(t, filepath.Join(work, "runs/ft/epoch-002.gozoo.json"), &card)
	if card.Arch != "resnet18" || card.Options["width"] != "8" || !slices.Equal(card.Classes, metrics.Classes) ||
		!card.Preprocess.Grayscale || card.Training == nil || card.Training.ValAccuracy != final {
		t.Errorf("epoch-002.gozoo.json = %+v; want resnet18 width 8, the tree's classes, the model's transform and the training record", card)
	}

	// eval of the last epoch: the same images, transform and classes as
	// finetune's validation, in the Go resnet plugin.
	_, stderr = user(t, gozoo, work, true, "eval", "--weights", "runs/ft/epoch-002.pth", "--out", "eval.json", "data/val")
	mustExist(t, work, "eval.json")
	var rep evalReport
	readJSON(t, filepath.Join(work, "eval.json"), &rep)
	t.Logf("finetune's final validation top-1 %.4f; eval's top-1 %.4f (%d/%d), top-3 %.4f", final, rep.Top1, rep.Correct, rep.Images, rep.Top5)
	if rep.Top1 != final || rep.Images != 30 {
		t.Errorf("eval top-1 = %v on %d images; finetune's final validation top-1 is %v on 30", rep.Top1, rep.Images, final)
	}
	if !strings.Contains(stderr, "model card runs/ft/epoch-002.gozoo.json") {
		t.Errorf("eval does not say where its transform and classes come from")
	}

	user(t, gozoo, work, true, "extract", "--weights", "runs/ft/best.pth", "--out", "feats/val.npz", "data/val")
	mustExist(t, work, "feats/val.npz")
	labels, model, err := featfile.ReadClasses(filepath.Join(work, "feats/val.npz"))
	if err != nil || !slices.Equal(labels, metrics.Classes) || !slices.Equal(model, metrics.Classes) {
		t.Errorf("feats/val.npz classes = %q, model classes %q, %v; want %q", labels, model, err, metrics.Classes)
	}
	if names := npzNames(t, filepath.Join(work, "feats/val.npz")); !slices.Equal(names, []string{"avgpool.npy", "classes.npy", "info_model.npy", "info_transform.npy", "label.npy", "model_classes.npy", "path.npy"}) {
		t.Errorf("feats/val.npz holds %q", names)
	}

	_, stderr = user(t, gozoo, work, true, "bridge", "import", "runs/ft/best.pth")
	mustExist(t, work, "runs/ft/best.parity.json", "runs/ft/best.parity.md")
	mustExist(t, tmp, "config/gozoo/zoo.yaml")
	if !strings.Contains(stderr, "model card runs/ft/best.gozoo.json") {
		t.Errorf("bridge import does not say it read the model card")
	}
	_, stderr = user(t, gozoo, work, true, "extract", "--model", "best.local", "--layers", "fc", "--out", "feats/val-fc.safetensors", "data/val")
	mustExist(t, work, "feats/val-fc.safetensors")
	if !strings.Contains(stderr, "Grayscale(3) Resize(28, bilinear) CenterCrop(28)") {
		t.Errorf("extract --model best.local does not use the model's transform")
	}
	if labels, _, err := featfile.ReadClasses(filepath.Join(work, "feats/val-fc.safetensors")); err != nil || !slices.Equal(labels, metrics.Classes) {
		t.Errorf("feats/val-fc.safetensors classes = %q, %v; want %q", labels, err, metrics.Classes)
	}
	user(t, gozoo, work, true, "eval", "--model", "best.local", "--out", "eval-best.json", "data/val")
	var best evalReport
	readJSON(t, filepath.Join(work, "eval-best.json"), &best)
	if best.Top1 != metrics.BestValAcc {
		t.Errorf("eval --model best.local top-1 = %v; finetune's best validation top-1 is %v", best.Top1, metrics.BestValAcc)
	}

	// --keep last,best keeps the last epoch (to resume from) and the best.
	user(t, gozoo, work, true, "finetune", "--model", zoo.DefaultModel, "--data", "data", "--out", "runs/keep", "--epochs", "2", "--keep", "last,best")
	mustExist(t, work, "runs/keep/epoch-002.pth", "runs/keep/epoch-002.gozoo.json", "runs/keep/epoch-002.trainstate", "runs/keep/best.pth", "runs/keep/best.gozoo.json")
	if left, _ := filepath.Glob(filepath.Join(work, "runs/keep/epoch-001*")); len(left) > 0 {
		t.Errorf("--keep last,best left %q", left)
	}

	// Classes by name. The same checkpoint under a card whose class names
	// are others, and a tree renamed accordingly whose torchvision order is
	// not the model's: eval matches by name, so its accuracy is the same.
	renamed := map[string]string{"bag": "x-bag", "sneaker": "a-sneaker", "trouser": "M-trouser"}
	writeTree(t, filepath.Join(work, "renamed"), 3000, 10, renamed)
	b, _ := os.ReadFile(filepath.Join(work, "runs/ft/epoch-002.pth"))
	os.WriteFile(filepath.Join(work, "other.pth"), b, 0o644)
	other := card
	other.Classes = nil
	for _, c := range card.Classes {
		other.Classes = append(other.Classes, renamed[c])
	}
	if err := zoo.WriteCard(filepath.Join(work, "other.pth"), &other); err != nil {
		t.Fatal(err)
	}
	user(t, gozoo, work, true, "eval", "--weights", "other.pth", "--out", "eval-renamed.json", "renamed")
	var byName evalReport
	readJSON(t, filepath.Join(work, "eval-renamed.json"), &byName)
	if slices.Equal(byName.TreeClasses, byName.Classes) {
		t.Fatalf("tree classes %q are in the model's order: the test does not test matching by name", byName.TreeClasses)
	}
	if byName.Top1 != rep.Top1 || byName.MeanClassAcc != rep.MeanClassAcc {
		t.Errorf("eval of the renamed tree: top-1 %v, mean per-class %v; want %v, %v as on the original names", byName.Top1, byName.MeanClassAcc, rep.Top1, rep.MeanClassAcc)
	}
	// finetune matches by name too: from other.pth on a tree of its
	// classes (in another order on disk) the head is kept and the labels
	// follow the model's order, so with nothing learnt (the backbone
	// frozen, and a learning rate of 1e-12, whose steps are below float32's
	// resolution of the head's weights) validation scores what eval scored.
	writeTree(t, filepath.Join(work, "renamed2", "train"), 0, 5, renamed)
	writeTree(t, filepath.Join(work, "renamed2", "val"), 3000, 10, renamed)
	_, stderr = user(t, gozoo, work, true, "finetune", "--weights", "other.pth", "--data", "renamed2", "--out", "runs/same",
		"--epochs", "1", "--lr", "1e-12", "--freeze", "*", "--unfreeze", "fc.*")
	if !strings.Contains(stderr, "head: kept") {
		t.Errorf("finetune on the model's own classes does not keep the head")
	}
	var same zoo.ModelCard
	readJSON(t, filepath.Join(work, "runs/same/epoch-001.gozoo.json"), &same)
	if !slices.Equal(same.Classes, other.Classes) || same.Training.ValAccuracy != rep.Top1 {
		t.Errorf("finetune from other.pth: classes %q, validation top-1 %v; want the model's %q and eval's %v", same.Classes, same.Training.ValAccuracy, other.Classes, rep.Top1)
	}

	// A tree whose names sort differently as bytes and as torchvision
	// sorts them (Latin-1 bytes beside an emoji) is not the model's:
	// refused, with the difference.
	latin := map[string]string{"bag": "\U0001F45Cbag", "sneaker": "\xfcsneaker", "trouser": "trouser"}
	writeTree(t, filepath.Join(work, "latin1"), 3000, 2, latin)
	_, stderr = user(t, gozoo, work, false, "eval", "--weights", "runs/ft/epoch-002.pth", "latin1")
	if !strings.Contains(stderr, "in the tree but not the model") || !strings.Contains(stderr, `"\xfcsneaker"`) {
		t.Errorf("eval of a tree with other classes: %s; want an error listing the difference", stderr)
	}
	if runtime.GOOS == "linux" {
		_, stderr = user(t, gozoo, work, false, "finetune", "--model", zoo.DefaultModel, "--data", "latin1", "--out", "runs/latin1", "--epochs", "1")
		if !strings.Contains(stderr, "not UTF-8") {
			t.Errorf("finetune on Latin-1 class names: %s; want an error asking to rename them", stderr)
		}
	}
}

func npzNames(t *testing.T, path string) []string {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	var names []string
	for _, f := range z.File {
		names = append(names, f.Name)
	}
	slices.Sort(names)
	return names
}
