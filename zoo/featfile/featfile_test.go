package featfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

func rows(paths ...string) []Row {
	var out []Row
	for i, p := range paths {
		out = append(out, Row{Path: p, Label: int64(i)})
	}
	return out
}

func feats(t *testing.T, n int, v float32) map[string]*sdk.Tensor {
	t.Helper()
	x := make([]float32, n*4)
	for i := range x {
		x[i] = v + float32(i)
	}
	a, err := sdk.NewTensor([]int64{int64(n), 4, 1, 1}, x)
	if err != nil {
		t.Fatal(err)
	}
	return map[string]*sdk.Tensor{"avgpool": a}
}

var run1 = Run{"seed": "1", "arch": "resnet18"}

func TestResumeAndFinish(t *testing.T) {
	for _, ext := range []string{".npz", ".safetensors"} {
		t.Run(ext, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f"+ext)
			w, err := Open(out, run1, []string{"avgpool"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Append(rows("a", "b"), feats(t, 2, 0), nil, 2); err != nil {
				t.Fatal(err)
			}
			// A crash between a chunk's data and its commit leaves data
			// that a resumed run drops.
			os.WriteFile(filepath.Join(out+".partial", "chunk-000001.bin"), []byte("partial"), 0o644)

			if _, err := Open(out, Run{"seed": "2", "arch": "resnet18"}, []string{"avgpool"}); !errors.Is(err, ErrOtherRun) {
				t.Fatalf("Open with another seed = %v; want ErrOtherRun", err)
			}
			w, err = Open(out, run1, []string{"avgpool"})
			if err != nil {
				t.Fatal(err)
			}
			if w.Next() != 2 || w.Rows() != 2 {
				t.Fatalf("resumed at Next %d Rows %d; want 2 and 2", w.Next(), w.Rows())
			}
			if err := w.Append(rows("c"), feats(t, 1, 100), []Skip{{"bad.jpg", "corrupt"}}, 4); err != nil {
				t.Fatal(err)
			}
			if err := w.Finish(); err != nil {
				t.Fatal(err)
			}
			if err := w.Finish(); err != nil {
				t.Fatalf("second Finish = %v; want nil", err)
			}
			if _, err := os.Stat(out + ".partial"); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("partial folder left: %v", err)
			}
			if st, err := os.Stat(out); err != nil || st.Size() < 3*16 {
				t.Errorf("output %s: %v", out, err)
			}
		})
	}
}

func TestBadOutputs(t *testing.T) {
	if _, err := Open(filepath.Join(t.TempDir(), "f.txt"), run1, []string{"a"}); err == nil {
		t.Error("Open(.txt) = nil error")
	}
	w, _ := Open(filepath.Join(t.TempDir(), "f.npz"), run1, []string{"avgpool"})
	if err := w.Finish(); err == nil {
		t.Error("Finish with no rows = nil error")
	}
	if err := w.Append(rows("a", "b"), feats(t, 1, 0), nil, 2); err == nil {
		t.Error("Append with a row count mismatch = nil error")
	}
}

func TestClasses(t *testing.T) {
	for _, ext := range []string{".npz", ".safetensors"} {
		t.Run(ext, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f"+ext)
			w, err := Open(out, Run{"arch": "resnet18"}, []string{"avgpool"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Append(rows("a", "b"), feats(t, 2, 0), nil, 2); err != nil {
				t.Fatal(err)
			}
			labels, model := []string{"Zebra", "ant", "été"}, []string{"ant", "Zebra", "été", "🐱"}
			w.SetClasses(labels, model)
			if err := w.Finish(); err != nil {
				t.Fatal(err)
			}
			c, m, err := ReadClasses(out)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(c, labels) || !slices.Equal(m, model) {
				t.Errorf("ReadClasses = %q, %q; want %q, %q", c, m, labels, model)
			}
		})
	}
}

func FuzzParseStrings(f *testing.F) {
	f.Add(npyHeader("<U3", []int64{2}))
	f.Add(append(npyHeader("<U1", []int64{1}), 'a', 0, 0, 0))
	f.Fuzz(func(t *testing.T, b []byte) {
		ss, err := parseStrings(b)
		if err == nil && ss == nil {
			t.Fatal("parseStrings = nil, nil")
		}
	})
}

func TestOtherRunNamesTheDifference(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f.npz")
	base := Run{"arch": "resnet18", "seed": "1", "transform": "resize 256"}
	w, err := Open(out, base, []string{"avgpool"})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Append(rows("a"), feats(t, 1, 0), nil, 1); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		run    Run
		layers []string
		want   []string
	}{
		{"seed", Run{"arch": "resnet18", "seed": "2", "transform": "resize 256"}, []string{"avgpool"},
			[]string{`seed: "1" in the partial output, "2" now`}},
		{"weights instead of seed", Run{"arch": "resnet18", "weights": "sha256 ab", "transform": "resize 256"}, []string{"avgpool"},
			[]string{`seed: "1" in the partial output, unset now`, `weights: unset in the partial output, "sha256 ab" now`}},
		{"layers", base, []string{"avgpool", "fc"},
			[]string{"layers: avgpool in the partial output, avgpool,fc now"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(out, tc.run, tc.layers)
			var re *RunError
			if !errors.As(err, &re) || !errors.Is(err, ErrOtherRun) {
				t.Fatalf("Open = %v; want a *RunError matching ErrOtherRun", err)
			}
			if !slices.Equal(re.Diffs, tc.want) {
				t.Errorf("Diffs = %q; want %q", re.Diffs, tc.want)
			}
			if msg := err.Error(); !strings.Contains(msg, "remove "+out+".partial or pass the same flags") {
				t.Errorf("error %q does not say what to do", msg)
			}
		})
	}
	// The refused runs left the partial output as it was.
	w, err = Open(out, base, []string{"avgpool"})
	if err != nil || w.Rows() != 1 {
		t.Fatalf("Open with the first run's settings = %v (rows %d); want it to resume 1 row", err, w.Rows())
	}
}

func TestNoPartialBeforeFirstChunk(t *testing.T) {
	out := filepath.Join(t.TempDir(), "f.npz")
	if _, err := Open(out, run1, []string{"avgpool"}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(out + ".partial"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Open created %s.partial before any chunk (stat: %v)", out, err)
	}
	// Another run may then start with other settings.
	w, err := Open(out, Run{"seed": "9"}, []string{"fc"})
	if err != nil {
		t.Fatalf("Open after a run that wrote nothing = %v", err)
	}
	if err := w.Append(nil, nil, []Skip{{"bad.jpg", "corrupt"}}, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(out+".partial", "meta.json")); err != nil {
		t.Fatalf("no meta.json after the first chunk: %v", err)
	}
}
