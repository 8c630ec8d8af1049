package featfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// writeFile writes one feature file of rows with features starting at v.
func writeFile(t *testing.T, out string, paths []string, v float32, skipped []Skip) {
	t.Helper()
	w, err := Open(out, run1, []string{"avgpool"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(rows(paths...), feats(t, len(paths), v), skipped, len(paths)+len(skipped)); err != nil {
		t.Fatal(err)
	}
	w.SetClasses(nil, []string{"a", "b"})
	w.SetInfo(map[string]string{"model": "resnet18"})
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
}

func TestLoadBothFormats(t *testing.T) {
	for _, ext := range []string{".npz", ".safetensors"} {
		t.Run(ext, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f"+ext)
			writeFile(t, out, []string{"x.png", "y.png"}, 10, []Skip{{"bad.png", "corrupt"}})
			f, err := Load(out)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(f.Paths, []string{"x.png", "y.png"}) || !slices.Equal(f.Labels, []int64{0, 1}) {
				t.Errorf("Load(%s) paths %q labels %v", ext, f.Paths, f.Labels)
			}
			if !slices.Equal(f.Names, []string{"avgpool"}) || f.Layers["avgpool"].Float32[5] != 15 {
				t.Errorf("Load(%s) layers %v, avgpool %v", ext, f.Names, f.Layers["avgpool"])
			}
			if len(f.Skipped) != 1 || f.Skipped[0].Path != "bad.png" || f.Info["model"] != "resnet18" || !slices.Equal(f.ModelClasses, []string{"a", "b"}) {
				t.Errorf("Load(%s) skipped %v info %v model classes %v", ext, f.Skipped, f.Info, f.ModelClasses)
			}
		})
	}
}

func TestMergeManifest(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "s-b.npz"), []string{"c", "d"}, 100, nil)
	writeFile(t, filepath.Join(dir, "s-a.npz"), []string{"a"}, 0, []Skip{{"b", "corrupt"}})
	m := &Manifest{Format: ManifestFormat, Layers: []string{"avgpool"}, Inputs: 5, Rows: 3, Skipped: 2,
		Shards: []ManifestShard{
			{File: "s-b.npz", Start: 2, Inputs: 2, Rows: 2},
			{Start: 4, Inputs: 1, Skipped: []Skip{{"e", "truncated"}}},
			{File: "s-a.npz", Start: 0, Inputs: 2, Rows: 1, Skipped: []Skip{{"b", "corrupt"}}},
		}}
	b, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	man := filepath.Join(dir, "manifest.json")
	if err := os.WriteFile(man, b, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, ext := range []string{".npz", ".safetensors"} {
		out := filepath.Join(dir, "merged"+ext)
		res, err := MergeManifest(out, man)
		if err != nil {
			t.Fatal(err)
		}
		if res.Rows != 3 || res.Skipped != 2 || res.Files != 2 {
			t.Errorf("MergeManifest = %+v; want 3 rows, 2 skipped, 2 files", res)
		}
		f, err := Load(out)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(f.Paths, []string{"a", "c", "d"}) || !slices.Equal(f.Labels, []int64{0, 0, 1}) {
			t.Errorf("merged paths %q labels %v; want a, c, d in input order", f.Paths, f.Labels)
		}
		if got := f.Layers["avgpool"].Float32; got[0] != 0 || got[4] != 100 || got[11] != 107 {
			t.Errorf("merged avgpool %v", got)
		}
		if len(f.Skipped) != 2 || f.Skipped[0].Path != "b" || f.Skipped[1].Path != "e" {
			t.Errorf("merged skipped %v; want b then e", f.Skipped)
		}
		if f.Info["model"] != "resnet18" || !slices.Equal(f.ModelClasses, []string{"a", "b"}) {
			t.Errorf("merged info %v model classes %v", f.Info, f.ModelClasses)
		}
	}
}

func TestManifestCheck(t *testing.T) {
	base := func() *Manifest {
		return &Manifest{Format: ManifestFormat, Layers: []string{"fc"}, Inputs: 4, Rows: 4, Shards: []ManifestShard{
			{File: "a.npz", Start: 0, Inputs: 2, Rows: 2}, {File: "b.npz", Start: 2, Inputs: 2, Rows: 2}}}
	}
	if err := base().Check(); err != nil {
		t.Fatalf("Check of a good manifest = %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Manifest)
		want string
	}{
		{"gap", func(m *Manifest) { m.Shards[1].Start = 3 }, "inputs 2..2 are in no shard"},
		{"duplicate", func(m *Manifest) { m.Shards = append(m.Shards, m.Shards[1]) }, "input 2 is in two shards"},
		{"short", func(m *Manifest) { m.Inputs = 6 }, "cover 4 of 6 inputs"},
		{"rows", func(m *Manifest) { m.Rows = 3 }, "hold 4 rows"},
		{"escape", func(m *Manifest) { m.Shards[0].File = "../x.npz" }, "not a name in the manifest's folder"},
		{"same file", func(m *Manifest) { m.Shards[1].File = "a.npz" }, "listed twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := base()
			tc.edit(m)
			err := m.Check()
			if !errors.Is(err, ErrBadManifest) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Check = %v; want ErrBadManifest saying %q", err, tc.want)
			}
		})
	}
}

func TestMergeRefusesOtherRuns(t *testing.T) {
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.npz"), filepath.Join(dir, "b.npz")
	writeFile(t, a, []string{"x"}, 0, nil)
	w, err := Open(b, run1, []string{"avgpool"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(rows("y"), feats(t, 1, 0), nil, 1); err != nil {
		t.Fatal(err)
	}
	w.SetInfo(map[string]string{"model": "resnet50"})
	if err := w.Finish(); err != nil {
		t.Fatal(err)
	}
	if _, err := Merge(filepath.Join(dir, "m.npz"), []string{a, b}); !errors.Is(err, ErrBadFile) || !strings.Contains(err.Error(), "merge only files of one run") {
		t.Errorf("Merge of two runs = %v; want ErrBadFile naming the difference", err)
	}
}
