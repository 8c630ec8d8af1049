package bridge

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
)

// The checkpoints testdata/make_checkpoints.py writes are shared by the
// tests of one run: the script takes seconds, mostly importing torch.
var fixtures struct {
	once sync.Once
	dir  string
	ok   bool
}

func TestMain(m *testing.M) {
	code := m.Run()
	if fixtures.dir != "" {
		os.RemoveAll(fixtures.dir)
	}
	os.Exit(code)
}

// checkpoints returns the folder holding the checkpoints torch wrote, or
// skips tb when PyTorch is missing.
func checkpoints(tb testing.TB) string {
	tb.Helper()
	testenv.Python(tb)
	fixtures.once.Do(func() {
		dir, err := os.MkdirTemp("", "bridge-checkpoints-")
		if err != nil {
			tb.Fatal(err)
		}
		fixtures.dir = dir
		testenv.RunPython(tb, filepath.Join("testdata", "make_checkpoints.py"), dir, "--resnet")
		fixtures.ok = true
	})
	if !fixtures.ok {
		tb.Fatal("testdata/make_checkpoints.py failed in an earlier test")
	}
	return fixtures.dir
}

// reference reads NAME.ref.json/.ref.bin: the tensors as torch converted
// them, in state_dict order.
func reference(t testing.TB, dir, name string) *StateDict {
	t.Helper()
	var meta struct {
		Keys    []string
		Tensors map[string]struct {
			DType          string
			Shape          []int64
			Offset, NBytes int
		}
	}
	js, err := os.ReadFile(filepath.Join(dir, name+".ref.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(js, &meta); err != nil {
		t.Fatal(err)
	}
	bin, err := os.ReadFile(filepath.Join(dir, name+".ref.bin"))
	if err != nil {
		t.Fatal(err)
	}
	sd := &StateDict{Keys: meta.Keys, Tensors: map[string]*sdk.Tensor{}}
	for k, m := range meta.Tensors {
		raw := bin[m.Offset : m.Offset+m.NBytes]
		tt := &sdk.Tensor{Shape: m.Shape}
		if m.DType == "int64" {
			tt.Int64 = make([]int64, m.NBytes/8)
			for i := range tt.Int64 {
				tt.Int64[i] = int64(binary.LittleEndian.Uint64(raw[8*i:]))
			}
		} else {
			tt.Float32 = make([]float32, m.NBytes/4)
			for i := range tt.Float32 {
				tt.Float32[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
			}
		}
		sd.Tensors[k] = tt
	}
	return sd
}

// equalStateDicts fails t unless got has want's keys in want's order and
// bit-identical values, dtypes and shapes.
func equalStateDicts(t testing.TB, got, want *StateDict) {
	t.Helper()
	if strings.Join(got.Keys, ",") != strings.Join(want.Keys, ",") {
		t.Fatalf("keys = %v; want %v", got.Keys, want.Keys)
	}
	if len(got.Tensors) != len(want.Tensors) {
		t.Fatalf("%d tensors; want %d", len(got.Tensors), len(want.Tensors))
	}
	for _, k := range want.Keys {
		g, w := got.Tensors[k], want.Tensors[k]
		if g == nil {
			t.Fatalf("tensor %q missing", k)
		}
		if err := g.Validate(); err != nil {
			t.Errorf("tensor %q: %v", k, err)
		}
		if !sdk.EqualShape(g.Shape, w.Shape) || g.DType() != w.DType() {
			t.Errorf("tensor %q: %s %s; want %s %s", k, g.DType(), sdk.FormatShape(g.Shape), w.DType(), sdk.FormatShape(w.Shape))
			continue
		}
		for i := range w.Float32 {
			if math.Float32bits(g.Float32[i]) != math.Float32bits(w.Float32[i]) {
				t.Errorf("tensor %q[%d] = %v; want %v", k, i, g.Float32[i], w.Float32[i])
				break
			}
		}
		for i := range w.Int64 {
			if g.Int64[i] != w.Int64[i] {
				t.Errorf("tensor %q[%d] = %v; want %v", k, i, g.Int64[i], w.Int64[i])
				break
			}
		}
	}
}

func TestLoadTorchCheckpoints(t *testing.T) {
	dir := checkpoints(t)
	small := reference(t, dir, "small")
	tests := []struct {
		file  string
		strip string
	}{
		{"plain.pth", ""},
		{"legacy.pth", ""},
		{"wrapped_state_dict.pth", ""},
		{"wrapped_model.pth", ""},
		{"wrapped_model_legacy.pth", ""},
		{"module.pth", "module."},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			path := filepath.Join(dir, tc.file)
			sd, err := Load(path)
			if err != nil {
				t.Fatalf("Load(%q) = %v", tc.file, err)
			}
			if sd.Source != path {
				t.Errorf("Source = %q; want %q", sd.Source, path)
			}
			if tc.strip != "" {
				if !sd.TrimPrefix(tc.strip) {
					t.Fatalf("TrimPrefix(%q) = false; keys %v", tc.strip, sd.Keys)
				}
			}
			equalStateDicts(t, sd, small)
		})
	}
}

func TestLoadSpecificValues(t *testing.T) {
	dir := checkpoints(t)
	sd, err := Load(filepath.Join(dir, "plain.pth"))
	if err != nil {
		t.Fatal(err)
	}
	nbt := sd.Tensors["num_batches_tracked"]
	if nbt.DType() != sdk.Int64 || len(nbt.Shape) != 0 || nbt.Int64[0] != 7 {
		t.Errorf("num_batches_tracked = %+v; want int64 scalar 7", nbt)
	}
	f16 := sd.Tensors["f16"].Float32
	if !math.IsInf(float64(f16[4]), 1) || math.Float32bits(f16[5]) != 1<<31 || f16[6] == 0 {
		t.Errorf("f16 specials = %v; want +Inf, -0, a subnormal", f16[4:])
	}
	if e := sd.Tensors["empty"]; !sdk.EqualShape(e.Shape, []int64{0, 3}) || e.Len() != 0 {
		t.Errorf("empty = %+v; want shape [0, 3]", e)
	}
}

func TestLoadResnet18(t *testing.T) {
	dir := checkpoints(t)
	sd, err := Load(filepath.Join(dir, "resnet18.pth"))
	if err != nil {
		t.Fatal(err)
	}
	equalStateDicts(t, sd, reference(t, dir, "resnet18"))
	if got := sd.Tensors["bn1.num_batches_tracked"]; got.DType() != sdk.Int64 {
		t.Errorf("bn1.num_batches_tracked dtype = %s; want int64", got.DType())
	}
}

// TestSeeds reads the small committed checkpoints (no torch needed):
// w = arange(6).view(2, 3).t(), h = [1.5, -2] in fp16, n = 3.
func TestSeeds(t *testing.T) {
	want := &StateDict{Keys: []string{"w", "h", "n"}, Tensors: map[string]*sdk.Tensor{
		"w": {Shape: []int64{3, 2}, Float32: []float32{0, 3, 1, 4, 2, 5}},
		"h": {Shape: []int64{2}, Float32: []float32{1.5, -2}},
		"n": {Shape: []int64{}, Int64: []int64{3}},
	}}
	for _, f := range []string{"tiny.pth", "tiny_legacy.pth", "tiny.safetensors"} {
		t.Run(f, func(t *testing.T) {
			sd, err := Load(filepath.Join("testdata", f))
			if err != nil {
				t.Fatalf("Load(%q) = %v", f, err)
			}
			equalStateDicts(t, sd, want)
		})
	}
}

func TestMaliciousCheckpoint(t *testing.T) {
	dir := checkpoints(t)
	for _, f := range []string{"malicious.pth", "malicious_legacy.pth"} {
		t.Run(f, func(t *testing.T) {
			_, err := Load(filepath.Join(dir, f))
			if !errors.Is(err, ErrUnsafePickle) {
				t.Fatalf("Load(%q) = %v; want ErrUnsafePickle", f, err)
			}
			var ue *UnsafeGlobalError
			if !errors.As(err, &ue) || ue.Module+"."+ue.Name != "posix.system" {
				t.Errorf("Load(%q) = %v; want it to name posix.system", f, err)
			}
			if !strings.Contains(err.Error(), "posix.system") || !strings.Contains(err.Error(), f) {
				t.Errorf("message %q should name the global and the file", err)
			}
			if _, err := os.Stat(filepath.Join(dir, "pwned")); !os.IsNotExist(err) {
				t.Fatalf("the pickle's command ran: %s/pwned exists", dir)
			}
		})
	}
}

// pickleGlobalCall returns a protocol-2 pickle calling module.name("x"),
// or with stack=true a protocol-4 one naming it through STACK_GLOBAL.
func pickleGlobalCall(module, name string, stack bool) []byte {
	var b bytes.Buffer
	str := func(s string) {
		b.WriteByte(0x8c)
		b.WriteByte(byte(len(s)))
		b.WriteString(s)
	}
	if stack {
		b.WriteString("\x80\x04")
		str(module)
		str(name)
		b.WriteByte(0x93)
	} else {
		b.WriteString("\x80\x02c" + module + "\n" + name + "\n")
	}
	str("x")
	b.WriteString("\x85R.")
	return b.Bytes()
}

// zipPTH wraps a pickle in the zip layout torch.save writes.
func zipPTH(t testing.TB, pkl []byte, records map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	add := func(name string, data []byte) {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		w.Write(data)
	}
	add("archive/data.pkl", pkl)
	for k, v := range records {
		add("archive/"+k, v)
	}
	add("archive/version", []byte("3\n"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestUnsafeGlobalsRefused(t *testing.T) {
	globals := []struct{ module, name string }{
		{"os", "system"}, {"posix", "system"}, {"builtins", "eval"}, {"builtins", "exec"},
		{"__builtin__", "eval"}, {"builtins", "getattr"}, {"subprocess", "Popen"},
		{"torch", "load"}, {"torch._utils", "_rebuild_qtensor"}, {"numpy.core.multiarray", "_reconstruct"},
	}
	for _, g := range globals {
		for _, stack := range []bool{false, true} {
			t.Run(g.module+"."+g.name, func(t *testing.T) {
				data := zipPTH(t, pickleGlobalCall(g.module, g.name, stack), nil)
				_, err := ReadPTH(bytes.NewReader(data), int64(len(data)))
				var ue *UnsafeGlobalError
				if !errors.Is(err, ErrUnsafePickle) || !errors.As(err, &ue) || ue.Module != g.module || ue.Name != g.name {
					t.Fatalf("ReadPTH(call %s.%s) = %v; want *UnsafeGlobalError naming it", g.module, g.name, err)
				}
				if !strings.Contains(err.Error(), g.module+"."+g.name) {
					t.Errorf("message %q does not name the global", err)
				}
			})
		}
	}
}

func TestCorruptFiles(t *testing.T) {
	dir := checkpoints(t)
	tmp := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(tmp, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	type tc struct {
		name string
		path string
	}
	cases := []tc{
		{"empty", write("empty.pth", nil)},
		{"text", write("notes.pth", []byte("these are not the weights you are looking for\n"))},
		{"text safetensors", write("notes.safetensors", []byte("hello world, no header here"))},
		{"pickle without magic", write("plain.pkl", []byte("\x80\x02K\x01."))},
		{"zip without data.pkl", write("other.zip", zipWithout(t))},
	}
	for _, f := range []string{"plain.pth", "legacy.pth", "resnet18.pth"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		for _, cut := range []int{1, 2, 10, 100, len(data) / 3, len(data) / 2, len(data) - 100, len(data) - 1} {
			name := f + "[:" + strconv.Itoa(cut) + "]"
			cases = append(cases, tc{name, write(strings.ReplaceAll(name, ":", "_"), data[:cut])})
		}
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load(c.path)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("Load(%s) = %v; want ErrCorrupt", c.name, err)
			}
			if !strings.Contains(err.Error(), c.path) {
				t.Errorf("message %q does not name the file", err)
			}
		})
	}
}

func zipWithout(t *testing.T) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, _ := zw.Create("readme.txt")
	w.Write([]byte("hi"))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestNotAStateDict(t *testing.T) {
	tests := []struct {
		name string
		pkl  string
	}{
		{"list", "\x80\x02]q\x00."},
		{"dict of ints", "\x80\x02}q\x00(X\x01\x00\x00\x00aK\x01u."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			data := zipPTH(t, []byte(tc.pkl), nil)
			_, err := ReadPTH(bytes.NewReader(data), int64(len(data)))
			if !errors.Is(err, ErrUnsupported) {
				t.Fatalf("ReadPTH(%s) = %v; want ErrUnsupported", tc.name, err)
			}
		})
	}
}

func TestTensorOutOfStorage(t *testing.T) {
	// {"w": a float tensor of shape (4,) over a storage of 2 elements}.
	pkl := "\x80\x02}(X\x01\x00\x00\x00wctorch._utils\n_rebuild_tensor_v2\n" +
		"((X\x07\x00\x00\x00storagectorch\nFloatStorage\nX\x01\x00\x00\x000X\x03\x00\x00\x00cpuK\x02tQ" +
		"K\x00K\x04\x85K\x01\x85\x89NtRu."
	data := zipPTH(t, []byte(pkl), map[string][]byte{"data/0": make([]byte, 8)})
	_, err := ReadPTH(bytes.NewReader(data), int64(len(data)))
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "past its storage") {
		t.Fatalf("ReadPTH(tensor past storage) = %v; want ErrCorrupt", err)
	}
}

func TestHalfToFloat(t *testing.T) {
	tests := []struct {
		h    uint16
		want float32
	}{
		{0x3c00, 1}, {0xc000, -2}, {0x0001, 5.9604645e-08}, {0x03ff, 6.097555e-05},
		{0x7bff, 65504}, {0x7c00, float32(math.Inf(1))}, {0x8000, float32(math.Copysign(0, -1))},
	}
	for _, tc := range tests {
		if got := halfToFloat(tc.h); math.Float32bits(got) != math.Float32bits(tc.want) {
			t.Errorf("halfToFloat(%#04x) = %v; want %v", tc.h, got, tc.want)
		}
	}
	if got := halfToFloat(0x7e00); !math.IsNaN(float64(got)) {
		t.Errorf("halfToFloat(0x7e00) = %v; want NaN", got)
	}
}

func BenchmarkLoadResnet18(b *testing.B) {
	path := filepath.Join(checkpoints(b), "resnet18.pth")
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	for b.Loop() {
		if _, err := Load(path); err != nil {
			b.Fatal(err)
		}
	}
}

// TestFlippedByte checks that a damaged tensor record fails its CRC.
func TestFlippedByte(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "tiny.pth"))
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/data/0") {
			continue
		}
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(data)
		bad[off] ^= 0x40
		_, err = ReadPTH(bytes.NewReader(bad), int64(len(bad)))
		if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("ReadPTH(flipped byte in %s) = %v; want ErrCorrupt", f.Name, err)
		}
		return
	}
	t.Fatal("tiny.pth has no data/0 record")
}
