package main

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk/ort"
)

// TestCLI runs the gozoo command, built from ../../cmd/gozoo, in a
// scratch folder with GOZOO_PLUGIN_PATH naming only the plugin's folder:
// gozoo finds tinycnn there, lists it with its sha256 and prints its
// layers.
func TestCLI(t *testing.T) {
	gozoo := goBuild(t, "../..", "./cmd/gozoo", "cli", "gozoo")
	bin := pluginBinary(t)
	cache := t.TempDir()
	run := func(args ...string) (string, error) {
		cmd := exec.Command(gozoo, args...)
		cmd.Dir = t.TempDir()
		cmd.Env = append(os.Environ(), "GOZOO_PLUGIN_PATH="+filepath.Dir(bin), "GOZOO_CACHE="+cache, "GOZOO_ORT_LIB="+ort.LibraryPath())
		out, err := cmd.CombinedOutput()
		return string(out), err
	}

	out, err := run("plugins")
	if err != nil {
		t.Fatalf("gozoo plugins: %v\n%s", err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	want := []string{"tinycnn", "0.1.0", "tinycnn", hex.EncodeToString(sum[:]), bin}
	if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return slices.Equal(strings.Fields(l), want) }) {
		t.Errorf("gozoo plugins lacks the line %q:\n%s", strings.Join(want, " "), out)
	}

	out, err = run("layers", "tinycnn", "--opt", "width=8", "--input-size", "24,20")
	if err != nil {
		t.Fatalf("gozoo layers: %v\n%s", err, out)
	}
	// Shapes and parameter counts of TinyCNN(width=8) on 24x20 inputs.
	for _, w := range []string{
		"features.0.conv Conv2d [N, 8, 24, 20] 216",
		"features.1.pool MaxPool2d [N, 16, 6, 5] 0",
		"features.2 Block [N, 32, 3, 2] 4672",
		"avgpool AdaptiveAvgPool2d [N, 32, 1, 1] 0",
		"fc Linear [N, 10] 330",
		"18 layers, 6418 parameters",
	} {
		if !slices.ContainsFunc(strings.Split(out, "\n"), func(l string) bool { return strings.Join(strings.Fields(l), " ") == w }) {
			t.Errorf("gozoo layers lacks %q:\n%s", w, out)
		}
	}

	out, err = run("layers", "tinycnn", "--opt", "widht=8")
	if err == nil || !strings.Contains(out, `option "widht": sdk: bad option`) || !strings.Contains(out, "did you mean width?") {
		t.Errorf("gozoo layers --opt widht=8 = %v\n%s\nwant a failure suggesting width", err, out)
	}
}
