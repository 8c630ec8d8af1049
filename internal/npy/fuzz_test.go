package npy

import (
	"archive/zip"
	"bytes"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

func seedNPY(f *testing.F) {
	for _, ts := range testTensors() {
		var buf bytes.Buffer
		if err := Write(&buf, ts); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	hdr := func(dict string) []byte {
		h := padHeader(dict, 10)
		b := append([]byte(magic), 1, 0, byte(len(h)), byte(len(h)>>8))
		return append(append(b, h...), make([]byte, 48)...)
	}
	f.Add(hdr("{'descr': '>f2', 'fortran_order': True, 'shape': (2, 3, 2), }"))
	f.Add(hdr("{'descr': '|b1', 'fortran_order': True, 'shape': (4, 3), }"))
	f.Add(hdr("{'descr': '<u4', 'fortran_order': False, 'shape': (99999999999,), }"))
}

// FuzzRead checks that Read never panics and that whatever it accepts is a
// valid tensor that survives a Write/Read round trip.
func FuzzRead(f *testing.F) {
	seedNPY(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ts, err := Read(bytes.NewReader(data))
		if err != nil {
			return
		}
		if err := ts.Validate(); err != nil {
			t.Fatalf("Read accepted an invalid tensor: %v", err)
		}
		var buf bytes.Buffer
		if err := Write(&buf, ts); err != nil {
			t.Fatalf("Write(Read(data)) = %v", err)
		}
		again, err := Read(&buf)
		if err != nil || !sdk.EqualShape(again.Shape, ts.Shape) || again.Len() != ts.Len() {
			t.Fatalf("round trip changed the array: %v", err)
		}
	})
}

// FuzzReadNPZ checks that ReadNPZFrom never panics on damaged archives.
func FuzzReadNPZ(f *testing.F) {
	for _, method := range []uint16{zip.Store, zip.Deflate} {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for _, name := range []string{"ids", "image", "scalar"} {
			w, err := zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: method})
			if err != nil {
				f.Fatal(err)
			}
			if err := Write(w, testTensors()[name]); err != nil {
				f.Fatal(err)
			}
		}
		if err := zw.Close(); err != nil {
			f.Fatal(err)
		}
		f.Add(buf.Bytes())
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		arrays, order, err := ReadNPZFrom(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		if len(arrays) != len(order) {
			t.Fatalf("%d arrays but %d names", len(arrays), len(order))
		}
		for _, name := range order {
			if err := arrays[name].Validate(); err != nil {
				t.Fatalf("array %q: %v", name, err)
			}
		}
	})
}
