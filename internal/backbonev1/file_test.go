//go:build unix

package backbonev1

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"syscall"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

func TestTensorFileRoundTrip(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		t    *sdk.Tensor
	}{
		{"float32", &sdk.Tensor{Shape: []int64{2, 3}, Float32: []float32{1, -2, 3.5, 0, 1e-30, 7}}},
		{"int64", &sdk.Tensor{Shape: []int64{3}, Int64: []int64{-1, 1 << 40, 3}}},
		{"empty", &sdk.Tensor{Shape: []int64{0, 4}, Float32: []float32{}}},
		{"large", sdk.Zeros(300, 1024)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			c, err := WriteTensorFile(path, "out", tt.t)
			if err != nil {
				t.Fatalf("WriteTensorFile() = %v", err)
			}
			if c.GetName() != "out" || c.GetFile().GetPath() != path || c.GetFile().GetSize() != TensorByteSize(tt.t) || len(c.GetData()) != 0 {
				t.Errorf("WriteTensorFile() chunk = %v", c)
			}
			if st, err := os.Stat(path); err != nil || st.Mode().Perm() != 0o600 {
				t.Errorf("tensor file mode = %v, %v; want 0600", st.Mode(), err)
			}
			got, err := ReadTensorFile(wire(t, c))
			if err != nil {
				t.Fatalf("ReadTensorFile() = %v", err)
			}
			if !sdk.EqualShape(got.Shape, tt.t.Shape) || got.DType() != tt.t.DType() || !reflect.DeepEqual(TensorBytes(got), TensorBytes(tt.t)) {
				t.Errorf("ReadTensorFile() = %v; want %v", got, tt.t)
			}
			// The file is created exclusively: never over an existing one.
			if _, err := WriteTensorFile(path, "out", tt.t); !errors.Is(err, os.ErrExist) {
				t.Errorf("WriteTensorFile(existing file) = %v; want ErrExist", err)
			}
		})
	}
}

func TestWriteTensorFileRefuses(t *testing.T) {
	dir := t.TempDir()
	x := sdk.Zeros(4)
	target := filepath.Join(dir, "target")
	if err := os.WriteFile(target, []byte("keep"), 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		t          *sdk.Tensor
	}{
		{"symlink", link, x},
		{"relative", "rel", x},
		{"missing folder", filepath.Join(dir, "no", "file"), x},
		{"invalid tensor", filepath.Join(dir, "bad"), &sdk.Tensor{Shape: []int64{3}, Float32: []float32{1}}},
	}
	for _, tt := range tests {
		if _, err := WriteTensorFile(tt.path, "", tt.t); err == nil {
			t.Errorf("WriteTensorFile(%s) = nil error", tt.name)
		}
	}
	if b, _ := os.ReadFile(target); string(b) != "keep" {
		t.Errorf("WriteTensorFile through a link changed its target to %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "bad")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a failed WriteTensorFile left a file: %v", err)
	}
}

func TestReadTensorFileRejects(t *testing.T) {
	dir := t.TempDir()
	x := sdk.Zeros(2, 4) // 32 bytes
	good, err := WriteTensorFile(filepath.Join(dir, "good"), "", x)
	if err != nil {
		t.Fatal(err)
	}
	ref := func(path string, dt DType, shape []int64, size int64) *TensorChunk {
		return &TensorChunk{Dtype: dt, Shape: shape, File: &TensorFile{Path: path, Size: size}}
	}
	gp := good.File.Path
	link := filepath.Join(dir, "link")
	os.Symlink(gp, link)
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	short := filepath.Join(dir, "short")
	os.WriteFile(short, make([]byte, 16), 0o600)
	long := filepath.Join(dir, "long")
	os.WriteFile(long, make([]byte, 40), 0o600)
	f32 := DType_DTYPE_FLOAT32
	tests := []struct {
		name string
		c    *TensorChunk
	}{
		{"no file", &TensorChunk{Dtype: f32, Shape: []int64{2, 4}, Data: make([]byte, 32)}},
		{"size lies high", ref(gp, f32, []int64{2, 4}, 1<<40)},
		{"size lies low", ref(gp, f32, []int64{2, 4}, 16)},
		{"shape lies", ref(gp, f32, []int64{2, 5}, 40)},
		{"huge shape", ref(gp, f32, []int64{1 << 40, 1 << 40}, 1<<62)},
		{"huge shape, small size", ref(gp, f32, []int64{1 << 30, 1 << 10}, 32)},
		{"negative shape", ref(gp, f32, []int64{-2, -4}, 32)},
		{"bad dtype", ref(gp, DType_DTYPE_UNSPECIFIED, []int64{2, 4}, 32)},
		{"int64 view of float32 bytes", ref(gp, DType_DTYPE_INT64, []int64{2, 4}, 64)},
		{"file shorter than claimed", ref(short, f32, []int64{2, 4}, 32)},
		{"file longer than claimed", ref(long, f32, []int64{2, 4}, 32)},
		{"symlink", ref(link, f32, []int64{2, 4}, 32)},
		{"named pipe", ref(fifo, f32, []int64{2, 4}, 32)},
		{"folder", ref(dir, f32, []int64{2, 4}, 32)},
		{"device", ref("/dev/zero", f32, []int64{2, 4}, 32)},
		{"missing", ref(filepath.Join(dir, "nope"), f32, []int64{2, 4}, 32)},
		{"relative", ref("good", f32, []int64{2, 4}, 32)},
		{"data as well", &TensorChunk{Dtype: f32, Shape: []int64{2, 4}, Data: []byte{1}, File: &TensorFile{Path: gp, Size: 32}}},
		{"offset", &TensorChunk{Dtype: f32, Shape: []int64{2, 4}, Offset: 4, File: &TensorFile{Path: gp, Size: 32}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ReadTensorFile(tt.c)
			if !errors.Is(err, sdk.ErrBadInput) {
				t.Errorf("ReadTensorFile(%s) = %v, %v; want an error wrapping ErrBadInput", tt.name, got, err)
			}
		})
	}
	if _, err := ReadTensorFile(good); err != nil {
		t.Errorf("ReadTensorFile(good) = %v", err)
	}
}

func TestAssemblerRejectsFile(t *testing.T) {
	var a Assembler
	c := &TensorChunk{Dtype: DType_DTYPE_FLOAT32, Shape: []int64{1}, File: &TensorFile{Path: "/x", Size: 4}}
	if _, err := a.Add(c); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Assembler.Add(file chunk) = %v; want ErrBadInput", err)
	}
	var o Outputs
	if err := o.Set("a", sdk.Zeros(1)); err != nil {
		t.Fatal(err)
	}
	if err := o.Set("a", sdk.Zeros(1)); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Outputs.Set(a) twice = %v; want ErrBadInput", err)
	}
	cs, _ := Chunks("a", sdk.Zeros(1), 0)
	if err := o.Add(cs[0]); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Outputs.Add(a) after Set(a) = %v; want ErrBadInput", err)
	}
	cs, _ = Chunks("b", sdk.Zeros(1), 0)
	o.Add(cs[0])
	if err := o.Set("b", sdk.Zeros(1)); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("Outputs.Set(b) after Add(b) = %v; want ErrBadInput", err)
	}
	ts, err := o.Tensors()
	if err != nil || len(ts) != 2 {
		t.Errorf("Outputs.Tensors() = %v, %v; want a and b", ts, err)
	}
}

func TestProbe(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "probe")
	if err := WriteProbe(path, "0123abcd"); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	os.Symlink(path, link)
	tests := []struct {
		name, path, token string
		want              bool
	}{
		{"match", path, "0123abcd", true},
		{"wrong token", path, "0123abce", false},
		{"prefix of content", path, "0123", false},
		{"empty token", path, "", false},
		{"missing", filepath.Join(dir, "nope"), "0123abcd", false},
		{"symlink", link, "0123abcd", false},
		{"relative", "probe", "0123abcd", false},
		{"device", "/dev/zero", "0123abcd", false},
	}
	for _, tt := range tests {
		if got := CheckProbe(tt.path, tt.token); got != tt.want {
			t.Errorf("CheckProbe(%s) = %v; want %v", tt.name, got, tt.want)
		}
	}
	if err := WriteProbe(path, "again"); err == nil {
		t.Errorf("WriteProbe(existing) = nil error")
	}
}

// FuzzReadTensorFile feeds ReadTensorFile references whose dtype, shape
// and size disagree with the file in every way: it must answer a tensor
// that matches the file, or an error, and never panic or allocate more
// than the file holds.
func FuzzReadTensorFile(f *testing.F) {
	f.Add(int32(1), int64(2), int64(4), int64(32), 32)
	f.Add(int32(2), int64(2), int64(2), int64(32), 32)
	f.Add(int32(1), int64(1<<40), int64(1<<30), int64(32), 32)
	f.Add(int32(1), int64(-1), int64(-32), int64(32), 32)
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, dtype int32, d0, d1, size int64, fileLen int) {
		if fileLen < 0 || fileLen > 1<<16 {
			return
		}
		path := filepath.Join(dir, "t")
		if err := os.WriteFile(path, make([]byte, fileLen), 0o600); err != nil {
			t.Fatal(err)
		}
		c := &TensorChunk{Dtype: DType(dtype), Shape: []int64{d0, d1}, File: &TensorFile{Path: path, Size: size}}
		x, err := ReadTensorFile(c)
		if err != nil {
			if !errors.Is(err, sdk.ErrBadInput) {
				t.Errorf("ReadTensorFile() = %v; want ErrBadInput", err)
			}
			return
		}
		if TensorByteSize(x) != int64(fileLen) || x.Validate() != nil {
			t.Errorf("ReadTensorFile() = %d bytes %v from a %d-byte file", TensorByteSize(x), x.Shape, fileLen)
		}
	})
}
