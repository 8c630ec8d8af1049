package bridge

import (
	"archive/zip"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// checkRead fails t if a successful read returned a malformed state_dict.
func checkRead(t *testing.T, sd *StateDict, err error) {
	t.Helper()
	if err != nil {
		return
	}
	if len(sd.Keys) != len(sd.Tensors) {
		t.Fatalf("%d keys but %d tensors", len(sd.Keys), len(sd.Tensors))
	}
	for _, k := range sd.Keys {
		if err := sd.Tensors[k].Validate(); err != nil {
			t.Fatalf("tensor %q: %v", k, err)
		}
	}
}

func addSeeds(f *testing.F, names ...string) {
	for _, n := range names {
		data, err := os.ReadFile(filepath.Join("testdata", n))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

func FuzzReadPTH(f *testing.F) {
	addSeeds(f, "tiny.pth", "tiny_legacy.pth")
	f.Add(zipPTH(f, pickleGlobalCall("os", "system", false), nil))
	f.Add(zipPTH(f, pickleGlobalCall("collections", "OrderedDict", true), nil))
	f.Add([]byte("\x80\x02K\x01."))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := ReadPTH(bytes.NewReader(data), int64(len(data)))
		checkRead(t, sd, err)
	})
}

func FuzzReadSafetensors(f *testing.F) {
	addSeeds(f, "tiny.safetensors")
	f.Add(safetensorsFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"__metadata__":{"k":"v"}}`, make([]byte, 8)))
	f.Add(safetensorsFile(`{"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]},"b":{"dtype":"I64","shape":[],"data_offsets":[4,12]}}`, make([]byte, 12)))
	f.Fuzz(func(t *testing.T, data []byte) {
		sd, err := ReadSafetensors(bytes.NewReader(data), int64(len(data)))
		checkRead(t, sd, err)
		if err != nil {
			return
		}
		// Whatever reads must write and read back.
		var buf bytes.Buffer
		if err := WriteSafetensors(&buf, sd); err != nil {
			t.Fatalf("WriteSafetensors(read) = %v", err)
		}
		back, err := ReadSafetensors(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
		if err != nil || len(back.Keys) != len(sd.Keys) {
			t.Fatalf("ReadSafetensors(WriteSafetensors(read)) = %v", err)
		}
	})
}

// FuzzUnpickle feeds the pickle of a zip checkpoint straight to the
// unpickler and the tensor gathering, past the zip checksums that keep
// FuzzReadPTH's mutations mostly at the archive level.
func FuzzUnpickle(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "tiny.pth"))
	if err != nil {
		f.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		f.Fatal(err)
	}
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/data.pkl") {
			pkl, err := readRecord(zf, maxPickleBytes)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(pkl)
		}
	}
	f.Add(pickleGlobalCall("collections", "OrderedDict", true))
	f.Fuzz(func(t *testing.T, pkl []byte) {
		storages := map[string]*storageRef{}
		u := &unpickler{data: pkl, call: callGlobal}
		u.persistentLoad = func(id any) (any, error) { return storageFromID(id, storages) }
		obj, err := u.load()
		if err != nil {
			return
		}
		sd, err := buildStateDict(obj, func(s *storageRef) error {
			if s.numel > 1<<20 {
				return ErrUnsupported
			}
			s.raw = make([]byte, s.numel*s.dt.size())
			return nil
		})
		checkRead(t, sd, err)
	})
}
