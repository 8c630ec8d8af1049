package cli

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/featfile"
)

// writeFeatures writes rows i in [from, to) of a feature file whose
// features are i*10+j, and skips the inputs named in skip.
func writeFeatures(t *testing.T, out string, from, to int, skip []featfile.Skip) {
	t.Helper()
	w, err := featfile.Open(out, featfile.Run{"arch": "resnet18"}, []string{"avgpool", "fc"})
	if err != nil {
		t.Fatal(err)
	}
	var rows []featfile.Row
	var a, b []float32
	for i := from; i < to; i++ {
		rows = append(rows, featfile.Row{Path: filepath.Join("img", string(rune('a'+i))+".png"), Label: int64(i % 3)})
		for j := 0; j < 4; j++ {
			a = append(a, float32(i*10+j))
		}
		b = append(b, float32(-i), float32(i))
	}
	ta, _ := sdk.NewTensor([]int64{int64(len(rows)), 4, 1, 1}, a)
	tb, _ := sdk.NewTensor([]int64{int64(len(rows)), 2}, b)
	if err := w.Append(rows, map[string]*sdk.Tensor{"avgpool": ta, "fc": tb}, skip, to-from+len(skip)); err != nil {
		t.Fatal(err)
	}
	w.SetClasses(nil, []string{"x", "y"})
	w.SetInfo(map[string]string{"model": "resnet18 (test)"})
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestFeaturesMerge(t *testing.T) {
	for _, ext := range []string{".npz", ".safetensors"} {
		t.Run(ext, func(t *testing.T) {
			dir := t.TempDir()
			// One file written in one go is what the merge must equal.
			whole := filepath.Join(dir, "whole"+ext)
			writeFeatures(t, whole, 0, 5, []featfile.Skip{{Path: "bad.png", Error: "corrupt"}})
			writeFeatures(t, filepath.Join(dir, "s1"+ext), 0, 3, nil)
			writeFeatures(t, filepath.Join(dir, "s2"+ext), 3, 5, []featfile.Skip{{Path: "bad.png", Error: "corrupt"}})
			m := &featfile.Manifest{Format: featfile.ManifestFormat, Layers: []string{"avgpool", "fc"}, Inputs: 6, Rows: 5, Skipped: 1,
				Shards: []featfile.ManifestShard{
					{File: "s2" + ext, Start: 3, Inputs: 3, Rows: 2, Skipped: []featfile.Skip{{Path: "bad.png", Error: "corrupt"}}},
					{File: "s1" + ext, Start: 0, Inputs: 3, Rows: 3},
				}}
			b, _ := m.Marshal()
			man := filepath.Join(dir, "f-manifest.json")
			os.WriteFile(man, b, 0o644)

			for _, args := range [][]string{{man}, {filepath.Join(dir, "s1"+ext), filepath.Join(dir, "s2"+ext)}} {
				out := filepath.Join(dir, "merged"+ext)
				_, stderr, err := execute(t, &Factory{}, append([]string{"features", "merge", "--out", out}, args...)...)
				if err != nil {
					t.Fatalf("features merge %v: %v", args, err)
				}
				if !strings.Contains(stderr, "5 rows from 2 files, 1 skipped") {
					t.Errorf("stderr %q does not count 5 rows, 2 files, 1 skipped", stderr)
				}
				got, _ := os.ReadFile(out)
				want, _ := os.ReadFile(whole)
				if !bytes.Equal(got, want) {
					t.Errorf("features merge %v: %d bytes differ from the file written in one go (%d bytes)", args, len(got), len(want))
				}
				os.Remove(out)
			}
		})
	}
}

func TestFeaturesMergeRefuses(t *testing.T) {
	dir := t.TempDir()
	writeFeatures(t, filepath.Join(dir, "s1.npz"), 0, 3, nil)
	m := &featfile.Manifest{Format: featfile.ManifestFormat, Layers: []string{"avgpool", "fc"}, Inputs: 4, Rows: 3,
		Shards: []featfile.ManifestShard{{File: "s1.npz", Start: 0, Inputs: 3, Rows: 3}}}
	b, _ := m.Marshal()
	man := filepath.Join(dir, "m.json")
	os.WriteFile(man, b, 0o644)
	out := filepath.Join(dir, "out.npz")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"features", "merge", man}, "--out is required"},
		{[]string{"features", "merge", "--out", out, man}, "the shards cover 3 of 4 inputs"},
		{[]string{"features", "merge", "--out", out, "a.txt"}, "give a manifest (.json) or feature files"},
	} {
		_, _, err := execute(t, &Factory{}, tc.args...)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v = %v; want an error saying %q", tc.args, err, tc.want)
		}
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused merge left %s (%v)", out, err)
	}
}
