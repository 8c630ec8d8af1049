package npy

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestReadHeader(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		descr, shape string
		want         Header
	}{
		{"|u1", "(2, 3, 4)", Header{DType: "uint8", Shape: []int64{2, 3, 4}}},
		{"<f8", "(5,)", Header{DType: "float64", Shape: []int64{5}}},
		{">i4", "(1, 2)", Header{DType: "big-endian int32", Shape: []int64{1, 2}}},
		{"|b1", "()", Header{DType: "bool", Shape: []int64{}}},
	} {
		dict := "{'descr': '" + tc.descr + "', 'fortran_order': False, 'shape': " + tc.shape + ", }"
		p := filepath.Join(dir, "a.npy")
		hdr := padHeader(dict, 10)
		b := append([]byte(magic+"\x01\x00"), byte(len(hdr)), byte(len(hdr)>>8))
		if err := os.WriteFile(p, append(b, hdr...), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := ReadHeader(p)
		if err != nil {
			t.Fatalf("ReadHeader(%s %s) = %v", tc.descr, tc.shape, err)
		}
		if got.Shape == nil {
			got.Shape = []int64{}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ReadHeader(%s %s) = %+v; want %+v", tc.descr, tc.shape, got, tc.want)
		}
	}
	if _, err := ReadHeader(filepath.Join(dir, "none.npy")); err == nil {
		t.Error("ReadHeader of a missing file succeeded")
	}
}
