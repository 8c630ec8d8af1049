package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
)

// TestFinetuneArchDefaults fine-tunes a bare --arch with no --plugin, as a
// user types it: the plugin is chosen by the training rule (torch, the one
// that can train, over the native resnet plugin) and said, and the model
// cards record a default layer, so extract of the checkpoint needs no
// --layers.
func TestFinetuneArchDefaults(t *testing.T) {
	tmp := t.TempDir()
	gozoo := install(t, tmp)
	work := filepath.Join(tmp, "work")
	writeTree(t, filepath.Join(work, "data", "train"), 0, 8, nil)
	writeTree(t, filepath.Join(work, "data", "val"), 3000, 4, nil)
	t.Setenv("GOZOO_ORT_LIB", ort.LibraryPath())
	t.Setenv("GOZOO_CACHE", filepath.Join(tmp, "cache"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(tmp, "config"))
	t.Setenv("GOZOO_PLUGIN_PATH", "")

	_, stderr := user(t, gozoo, work, true, "finetune", "--arch", "resnet18", "--data", "data", "--out", "runs/ft",
		"--epochs", "1", "--input-size", "32", "--batch-size", "12")
	for _, want := range []string{
		"resnet18: plugin torch (can train; also offered by resnet, which cannot)",
		"layer: fc (the model's default output",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("finetune does not print %q", want)
		}
	}
	card, err := zoo.ReadCard(filepath.Join(work, "runs", "ft", "best.pth"))
	if err != nil || card == nil {
		t.Fatalf("best.pth's model card: %v, %v", card, err)
	}
	if card.Layer != "fc" || card.Plugin != "torch" {
		t.Errorf("model card: layer %q, plugin %q; want fc, torch", card.Layer, card.Plugin)
	}

	_, stderr = user(t, gozoo, work, true, "extract", "--weights", "runs/ft/best.pth", "--out", "feats.safetensors", "data/val")
	if !strings.Contains(stderr, "layers: fc (the model's default") {
		t.Errorf("extract --weights best.pth does not say it picked the card's layer fc")
	}
	mustExist(t, work, "feats.safetensors")

	// --plugin still overrides: the native resnet plugin cannot train.
	_, stderr = user(t, gozoo, work, false, "finetune", "--arch", "resnet18", "--plugin", "resnet", "--data", "data",
		"--out", "runs/native", "--epochs", "1", "--input-size", "32")
	if !strings.Contains(stderr, "plugin resnet") || !strings.Contains(stderr, "cannot train") {
		t.Errorf("finetune --plugin resnet: %s; want an error that plugin resnet cannot train", stderr)
	}
}
