package featfile

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
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

func TestResumeAndFinish(t *testing.T) {
	for _, ext := range []string{".npz", ".safetensors"} {
		t.Run(ext, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "f"+ext)
			w, err := Open(out, "fp1", []string{"avgpool"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Append(rows("a", "b"), feats(t, 2, 0), nil, 2); err != nil {
				t.Fatal(err)
			}
			// A crash between a chunk's data and its commit leaves data
			// that a resumed run drops.
			os.WriteFile(filepath.Join(out+".partial", "chunk-000001.bin"), []byte("partial"), 0o644)

			if _, err := Open(out, "other", []string{"avgpool"}); !errors.Is(err, ErrOtherRun) {
				t.Fatalf("Open with another fingerprint = %v; want ErrOtherRun", err)
			}
			w, err = Open(out, "fp1", []string{"avgpool"})
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
	if _, err := Open(filepath.Join(t.TempDir(), "f.txt"), "x", []string{"a"}); err == nil {
		t.Error("Open(.txt) = nil error")
	}
	w, _ := Open(filepath.Join(t.TempDir(), "f.npz"), "x", []string{"avgpool"})
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
			w, err := Open(out, "fp", []string{"avgpool"})
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
