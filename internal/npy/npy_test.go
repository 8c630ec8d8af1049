package npy

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
)

// described is numpy_files.py's JSON view of one array.
type described struct {
	DType  string   `json:"dtype"`
	Shape  []int64  `json:"shape"`
	Values []string `json:"values"`
}

func (d described) floats(t *testing.T) []float64 {
	t.Helper()
	out := make([]float64, len(d.Values))
	for i, s := range d.Values {
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			t.Fatalf("parse %q: %v", s, err)
		}
		out[i] = v
	}
	return out
}

// checkTensor compares got with numpy's description: float kinds as
// float32 (bit-exact after the same rounding), others as int64.
func checkTensor(t *testing.T, what string, got *sdk.Tensor, want described) {
	t.Helper()
	if !sdk.EqualShape(got.Shape, want.Shape) {
		t.Fatalf("%s: shape = %v; want %v", what, got.Shape, want.Shape)
	}
	vals := want.floats(t)
	isFloat := want.DType[1] == 'f'
	if isFloat != (got.DType() == sdk.Float32) || got.Len() != len(vals) {
		t.Fatalf("%s: dtype %s with %d elements; want %s-derived with %d", what, got.DType(), got.Len(), want.DType, len(vals))
	}
	for i, v := range vals {
		if isFloat {
			w := float32(v)
			g := got.Float32[i]
			if math.Float32bits(g) != math.Float32bits(w) && !(g != g && w != w) {
				t.Fatalf("%s: element %d = %v; want %v", what, i, g, w)
			}
		} else if got.Int64[i] != int64(v) {
			t.Fatalf("%s: element %d = %d; want %d", what, i, got.Int64[i], int64(v))
		}
	}
}

func TestReadNumpyFiles(t *testing.T) {
	dir := t.TempDir()
	out := testenv.RunPython(t, "testdata/numpy_files.py", "write", dir)
	var manifest struct {
		NPY      map[string]described `json:"npy"`
		Bad      map[string]string    `json:"bad"`
		NPZ      map[string]described `json:"npz"`
		NPZOrder []string             `json:"npz_order"`
	}
	if err := json.Unmarshal(out, &manifest); err != nil {
		t.Fatal(err)
	}
	for name, want := range manifest.NPY {
		t.Run(name, func(t *testing.T) {
			got, err := ReadFile(filepath.Join(dir, name+".npy"))
			if err != nil {
				t.Fatalf("ReadFile(%s.npy) = %v", name, err)
			}
			checkTensor(t, name, got, want)
		})
	}
	for name, dtype := range manifest.Bad {
		t.Run("bad_"+name, func(t *testing.T) {
			_, err := ReadFile(filepath.Join(dir, "bad_"+name+".npy"))
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("ReadFile(bad_%s.npy) (dtype %s) = %v; want ErrFormat", name, dtype, err)
			}
			t.Logf("%s: %v", dtype, err)
		})
	}
	for _, file := range []string{"plain.npz", "compressed.npz"} {
		t.Run(file, func(t *testing.T) {
			arrays, order, err := ReadNPZ(filepath.Join(dir, file))
			if err != nil {
				t.Fatalf("ReadNPZ(%s) = %v", file, err)
			}
			if !slices.Equal(order, manifest.NPZOrder) {
				t.Errorf("ReadNPZ(%s) order = %v; want %v", file, order, manifest.NPZOrder)
			}
			for name, want := range manifest.NPZ {
				checkTensor(t, file+"/"+name, arrays[name], want)
			}
		})
	}
}

// testTensors are the arrays the Go-side tests write.
func testTensors() map[string]*sdk.Tensor {
	seq := func(n int) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = float32(i)*0.25 - 3
		}
		return out
	}
	ints := []int64{math.MinInt64, -1, 0, 1, 1 << 40, math.MaxInt64}
	return map[string]*sdk.Tensor{
		"scalar":   {Shape: []int64{}, Float32: []float32{1.5}},
		"vector":   {Shape: []int64{7}, Float32: seq(7)},
		"image":    {Shape: []int64{2, 3, 4, 5}, Float32: seq(120)},
		"empty":    {Shape: []int64{0, 4}, Float32: []float32{}},
		"specials": {Shape: []int64{4}, Float32: []float32{float32(math.Inf(1)), float32(math.Inf(-1)), math.SmallestNonzeroFloat32, math.MaxFloat32}},
		"ids":      {Shape: []int64{2, 3}, Int64: ints},
		"int_one":  {Shape: []int64{}, Int64: []int64{42}},
	}
}

func TestRoundTrip(t *testing.T) {
	for name, want := range testTensors() {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := Write(&buf, want); err != nil {
				t.Fatal(err)
			}
			if buf.Len()%64 != (want.Len()*map[sdk.DType]int{sdk.Float32: 4, sdk.Int64: 8}[want.DType()])%64 {
				t.Errorf("data does not start on a 64-byte boundary (file %d bytes)", buf.Len())
			}
			got, err := Read(&buf)
			if err != nil {
				t.Fatalf("Read(Write(%s)) = %v", name, err)
			}
			if !equal(got, want) {
				t.Fatalf("Read(Write(%s)) = %+v; want %+v", name, got, want)
			}
		})
	}
}

func equal(a, b *sdk.Tensor) bool {
	if !sdk.EqualShape(a.Shape, b.Shape) || a.DType() != b.DType() || a.Len() != b.Len() {
		return false
	}
	if a.DType() == sdk.Int64 {
		return slices.Equal(a.Int64, b.Int64)
	}
	for i := range a.Float32 {
		if math.Float32bits(a.Float32[i]) != math.Float32bits(b.Float32[i]) {
			return false
		}
	}
	return true
}

func TestNumpyLoadsOurFiles(t *testing.T) {
	dir := t.TempDir()
	tensors := testTensors()
	var paths []string
	for name, ts := range tensors {
		p := filepath.Join(dir, name+".npy")
		if err := WriteFile(p, ts); err != nil {
			t.Fatal(err)
		}
		paths = append(paths, p)
	}
	npz := filepath.Join(dir, "all.npz")
	w, err := Create(npz)
	if err != nil {
		t.Fatal(err)
	}
	order := []string{"image", "ids", "scalar", "empty"}
	for _, name := range order {
		if err := w.Add(name, tensors[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	out := testenv.RunPython(t, "testdata/numpy_files.py", append([]string{"load", npz}, paths...)...)
	var loaded map[string]json.RawMessage
	if err := json.Unmarshal(out, &loaded); err != nil {
		t.Fatal(err)
	}
	for name, ts := range tensors {
		var d described
		if err := json.Unmarshal(loaded[filepath.Join(dir, name+".npy")], &d); err != nil {
			t.Fatal(err)
		}
		wantType := map[sdk.DType]string{sdk.Float32: "<f4", sdk.Int64: "<i8"}[ts.DType()]
		if d.DType != wantType {
			t.Errorf("np.load(%s.npy).dtype = %s; want %s", name, d.DType, wantType)
		}
		if ts.DType() == sdk.Int64 {
			// JSON floats cannot hold every int64; compare via our reader
			// of numpy's own re-save instead of the manifest.
			continue
		}
		checkTensor(t, "np.load("+name+".npy)", ts, d)
	}
	var z struct {
		Files  []string             `json:"files"`
		Arrays map[string]described `json:"arrays"`
	}
	if err := json.Unmarshal(loaded[npz], &z); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(z.Files, order) {
		t.Errorf("np.load(all.npz).files = %v; want %v", z.Files, order)
	}
	for _, name := range []string{"image", "scalar", "empty"} {
		checkTensor(t, "np.load(all.npz)["+name+"]", tensors[name], z.Arrays[name])
	}
	ids := z.Arrays["ids"]
	if ids.DType != "<i8" || !sdk.EqualShape(ids.Shape, tensors["ids"].Shape) {
		t.Errorf("np.load(all.npz)[ids] = %s %v; want <i8 %v", ids.DType, ids.Shape, tensors["ids"].Shape)
	}
}

// TestNumpyInt64Exact checks int64 values numpy reads from our file
// bit-exactly, by having numpy re-save them in its own writer.
func TestNumpyInt64Exact(t *testing.T) {
	dir := t.TempDir()
	want := testTensors()["ids"]
	ours := filepath.Join(dir, "ours.npy")
	if err := WriteFile(ours, want); err != nil {
		t.Fatal(err)
	}
	theirs := filepath.Join(dir, "theirs.npy")
	py := testenv.Python(t)
	script := "import numpy as np, sys; a = np.load(sys.argv[1]); assert a.dtype == np.int64, a.dtype; np.save(sys.argv[2], np.asfortranarray(a.astype('>i8')))"
	if out, err := exec.Command(py, "-c", script, ours, theirs).CombinedOutput(); err != nil {
		t.Fatalf("numpy: %v\n%s", err, out)
	}
	got, err := ReadFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	if !equal(got, want) {
		t.Fatalf("numpy round trip = %v; want %v", got.Int64, want.Int64)
	}
}

func TestBadHeaders(t *testing.T) {
	good := func(dict string, data []byte) []byte {
		hdr := padHeader(dict, 10)
		b := append([]byte(magic), 1, 0, byte(len(hdr)), byte(len(hdr)>>8))
		return append(append(b, hdr...), data...)
	}
	tests := []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"magic", []byte("PK\x03\x04 not npy at all")},
		{"version", append([]byte(magic), 9, 0, 0, 0)},
		{"truncated header", append([]byte(magic), 1, 0, 100, 0, '{')},
		{"not a dict", good("[1, 2]", nil)},
		{"missing shape", good("{'descr': '<f4', 'fortran_order': False}", nil)},
		{"unknown key", good("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}", make([]byte, 4))},
		{"negative dim", good("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", nil)},
		{"short data", good("{'descr': '<f4', 'fortran_order': False, 'shape': (3,), }", make([]byte, 8))},
		{"lying huge shape", good("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000000, 1000000000), }", make([]byte, 64))},
		{"overflowing shape", good("{'descr': '<f8', 'fortran_order': False, 'shape': (9223372036854775807, 9223372036854775807), }", nil)},
		{"dtype", good("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", make([]byte, 8))},
		{"structured", good("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", make([]byte, 4))},
		{"bad bool", good("{'descr': '<f4', 'fortran_order': maybe, 'shape': (1,), }", make([]byte, 4))},
		{"bad tuple", good("{'descr': '<f4', 'fortran_order': False, 'shape': (1 2), }", make([]byte, 8))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Read(bytes.NewReader(tt.file))
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("Read(%s) = %v; want ErrFormat", tt.name, err)
			}
		})
	}
	t.Run("ReadFile size check", func(t *testing.T) {
		p := filepath.Join(t.TempDir(), "lie.npy")
		if err := os.WriteFile(p, tests[9].file, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(p); !errors.Is(err, ErrFormat) {
			t.Fatalf("ReadFile(lying header) = %v; want ErrFormat", err)
		}
	})
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.npy")
	want := testTensors()["vector"]
	if err := WriteFile(p, want); err != nil {
		t.Fatal(err)
	}
	// A failed write leaves the old file and no temporary behind.
	bad := &sdk.Tensor{Shape: []int64{3}, Float32: []float32{1}}
	if err := WriteFile(p, bad); err == nil {
		t.Fatal("WriteFile(invalid tensor) = nil; want an error")
	}
	got, err := ReadFile(p)
	if err != nil || !equal(got, want) {
		t.Fatalf("after a failed WriteFile, ReadFile = %v, %v; want the old array", got, err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("directory holds %d entries after writes; want 1", len(entries))
	}
}

func TestNPZWriterFailure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.npz")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	w, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Add("a", testTensors()["vector"]); err != nil {
		t.Fatal(err)
	}
	if err := w.Add("a", testTensors()["vector"]); err == nil {
		t.Error("Add(duplicate name) = nil; want an error")
	}
	if err := w.Add("bad", &sdk.Tensor{Shape: []int64{2}}); err == nil {
		t.Error("Add(invalid tensor) = nil; want an error")
	}
	w.Abort()
	if err := w.Close(); err != nil {
		t.Errorf("Close after Abort = %v; want nil", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("aborted writer changed %s to %q", p, b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Fatalf("aborted writer left %d entries; want 1", len(entries))
	}

	// Closing after a failed write also leaves the old file.
	w, err = Create(p)
	if err != nil {
		t.Fatal(err)
	}
	w.err = errors.New("disk full")
	if err := w.Close(); err == nil {
		t.Fatal("Close after a failure = nil; want the failure")
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("failed writer changed %s to %q", p, b)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close = %v; want nil", err)
	}
}

func TestNPZRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "r.npz")
	w, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	tensors := testTensors()
	var order []string
	for _, name := range []string{"ids", "image", "scalar", "int_one", "empty"} {
		if err := w.Add(name, tensors[name]); err != nil {
			t.Fatal(err)
		}
		order = append(order, name)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	got, gotOrder, err := ReadNPZ(p)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(gotOrder, order) {
		t.Errorf("ReadNPZ order = %v; want %v", gotOrder, order)
	}
	for _, name := range order {
		if !equal(got[name], tensors[name]) {
			t.Errorf("ReadNPZ[%s] = %+v; want %+v", name, got[name], tensors[name])
		}
	}
}
