package bridge

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

func TestSafetensorsRoundTrip(t *testing.T) {
	want := &StateDict{
		Keys: []string{"conv.weight", "bn.num_batches_tracked", "zeros", "specials"},
		Tensors: map[string]*sdk.Tensor{
			"conv.weight":            {Shape: []int64{2, 1, 2}, Float32: []float32{1, -2, 3.5, 1e-30}},
			"bn.num_batches_tracked": {Shape: []int64{}, Int64: []int64{math.MinInt64}},
			"zeros":                  {Shape: []int64{0, 4}, Float32: []float32{}},
			"specials":               {Shape: []int64{3}, Float32: []float32{float32(math.Inf(-1)), float32(math.Copysign(0, -1)), math.MaxFloat32}},
		},
		Metadata: map[string]string{"format": "pt"},
	}
	var buf bytes.Buffer
	if err := WriteSafetensors(&buf, want); err != nil {
		t.Fatal(err)
	}
	if hlen := binary.LittleEndian.Uint64(buf.Bytes()); hlen%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hlen)
	}
	got, err := ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatalf("ReadSafetensors(written) = %v", err)
	}
	equalStateDicts(t, got, want)
	if got.Metadata["format"] != "pt" || len(got.Metadata) != 1 {
		t.Errorf("Metadata = %v; want format=pt", got.Metadata)
	}
}

func TestSafetensorsFromPython(t *testing.T) {
	dir := checkpoints(t)
	sd, err := Load(filepath.Join(dir, "hand.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	equalStateDicts(t, sd, reference(t, dir, "hand"))
	if sd.Metadata["note"] != "hand-written" {
		t.Errorf("Metadata = %v; want note=hand-written", sd.Metadata)
	}
}

// TestPTHToSafetensors converts resnet18 and reads it back unchanged.
func TestPTHToSafetensors(t *testing.T) {
	dir := checkpoints(t)
	sd, err := Load(filepath.Join(dir, "resnet18.pth"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "resnet18.safetensors")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(f, sd); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	back, err := Load(out)
	if err != nil {
		t.Fatal(err)
	}
	equalStateDicts(t, back, reference(t, dir, "resnet18"))
}

// TestLoadSafetensorsHeader128 checks that Load does not take a header
// length of 128 (first byte 0x80, a pickle's first byte) for a pickle.
func TestLoadSafetensorsHeader128(t *testing.T) {
	h := `{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`
	h += strings.Repeat(" ", 128-len(h))
	path := filepath.Join(t.TempDir(), "a.safetensors")
	if err := os.WriteFile(path, safetensorsFile(h, []byte{0, 0, 0x80, 0x3f}), 0o644); err != nil {
		t.Fatal(err)
	}
	sd, err := Load(path)
	if err != nil || sd.Tensors["a"].Float32[0] != 1 {
		t.Fatalf("Load(header of 128 bytes) = %v, %v; want a = [1]", sd, err)
	}
}

// safetensorsFile builds a file from a raw header and data.
func safetensorsFile(header string, data []byte) []byte {
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	return append(append(b, header...), data...)
}

func TestSafetensorsMalformed(t *testing.T) {
	eight := make([]byte, 8)
	tests := []struct {
		name string
		file []byte
		want error
		msg  string
	}{
		{"short", []byte{1, 2, 3}, ErrCorrupt, "shorter"},
		{"header over limit", binary.LittleEndian.AppendUint64(nil, 200_000_000), ErrCorrupt, "limit"},
		{"header past end", binary.LittleEndian.AppendUint64(nil, 64), ErrCorrupt, "past the end"},
		{"not json", safetensorsFile("[1, 2]", nil), ErrCorrupt, "JSON object"},
		{"broken json", safetensorsFile(`{"a": {"dtype": `, nil), ErrCorrupt, "header"},
		{"out of bounds", safetensorsFile(`{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}`, eight), ErrCorrupt, "past the 8 data bytes"},
		{"overlap", safetensorsFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), ErrCorrupt, "overlap"},
		{"gap", safetensorsFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), ErrCorrupt, "unused bytes"},
		{"trailing", safetensorsFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`, eight), ErrCorrupt, "after its last tensor"},
		{"size disagrees with shape", safetensorsFile(`{"a":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}`, eight), ErrCorrupt, "needs 16 bytes"},
		{"negative shape", safetensorsFile(`{"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}}`, eight), ErrCorrupt, "shape"},
		{"reversed offsets", safetensorsFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}`, eight), ErrCorrupt, "data_offsets"},
		{"duplicate key", safetensorsFile(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, eight), ErrCorrupt, "twice"},
		{"bad metadata", safetensorsFile(`{"__metadata__":{"n":1}}`, nil), ErrCorrupt, "__metadata__"},
		{"unknown dtype", safetensorsFile(`{"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}}`, eight), ErrUnsupported, "C64"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ReadSafetensors(bytes.NewReader(tc.file), int64(len(tc.file)))
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("ReadSafetensors(%s) = %v; want %v mentioning %q", tc.name, err, tc.want, tc.msg)
			}
		})
	}
}

func TestWriteSafetensorsRejects(t *testing.T) {
	tests := []struct {
		name string
		sd   *StateDict
	}{
		{"key without tensor", &StateDict{Keys: []string{"a"}, Tensors: map[string]*sdk.Tensor{"b": sdk.Zeros(1)}}},
		{"count mismatch", &StateDict{Keys: []string{"a", "b"}, Tensors: map[string]*sdk.Tensor{"a": sdk.Zeros(1)}}},
		{"bad tensor", &StateDict{Keys: []string{"a"}, Tensors: map[string]*sdk.Tensor{"a": {Shape: []int64{3}, Float32: []float32{1}}}}},
		{"reserved name", &StateDict{Keys: []string{"__metadata__"}, Tensors: map[string]*sdk.Tensor{"__metadata__": sdk.Zeros(1)}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := WriteSafetensors(&bytes.Buffer{}, tc.sd); !errors.Is(err, sdk.ErrBadInput) {
				t.Fatalf("WriteSafetensors(%s) = %v; want ErrBadInput", tc.name, err)
			}
		})
	}
}
