package bridge

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/big"
	"path"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// maxPickleBytes bounds the pickle part of a zip checkpoint. A state_dict
// pickle holds names and shapes only (kilobytes); the tensors live in
// separate records.
const maxPickleBytes = 256 << 20

// legacyMagic is the number torch's legacy (non-zip) format starts with.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

// ReadPTH reads a PyTorch checkpoint written by torch.save: the zip format
// (the default since torch 1.6) or the legacy format
// (_use_new_zipfile_serialization=False). The file must hold a state_dict,
// either at the top level or under a "state_dict" or "model" key.
//
// The pickle inside is interpreted as data: only the globals torch writes
// for tensors (collections.OrderedDict, torch._utils._rebuild_tensor_v2,
// torch._utils._rebuild_parameter, torch.FloatStorage and the other
// storage types, _codecs.encode) are accepted. Any other global fails with
// an *UnsafeGlobalError (ErrUnsafePickle) and is never run.
//
// Floating tensors (float16, bfloat16, float32, float64) become float32;
// integer and bool tensors become int64. Views (transposes, slices,
// tensors sharing a storage) are gathered into dense row-major tensors.
func ReadPTH(r io.ReaderAt, size int64) (*StateDict, error) {
	var head [4]byte
	n, _ := r.ReadAt(head[:], 0)
	switch {
	case n == 0:
		return nil, fmt.Errorf("%w: empty file", ErrCorrupt)
	case n == 4 && (string(head[:]) == "PK\x03\x04" || string(head[:]) == "PK\x05\x06"):
		return readZipPTH(r, size)
	case head[0] == 0x80:
		return readLegacyPTH(r, size)
	}
	return nil, fmt.Errorf("%w: not a torch.save file (starts with %q; want a zip archive or a pickle)", ErrCorrupt, head[:n])
}

func readZipPTH(r io.ReaderAt, size int64) (*StateDict, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: zip archive is damaged or truncated (%v): re-download or re-save the checkpoint", ErrCorrupt, err)
	}
	files := map[string]*zip.File{}
	var pkl *zip.File
	for _, f := range zr.File {
		files[f.Name] = f
		if dir, base := path.Split(f.Name); base == "data.pkl" && strings.Count(dir, "/") == 1 {
			if pkl != nil {
				return nil, fmt.Errorf("%w: zip archive has two data.pkl records", ErrCorrupt)
			}
			pkl = f
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("%w: zip archive has no <name>/data.pkl record, so torch.save did not write it", ErrCorrupt)
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	if f := files[prefix+"byteorder"]; f != nil {
		b, err := readRecord(f, 16)
		if err != nil {
			return nil, err
		}
		if string(b) != "little" {
			return nil, fmt.Errorf("%w: byte order %q: re-save the checkpoint on a little-endian machine", ErrUnsupported, b)
		}
	}
	data, err := readRecord(pkl, maxPickleBytes)
	if err != nil {
		return nil, err
	}
	storages := map[string]*storageRef{}
	u := &unpickler{data: data, call: callGlobal}
	u.persistentLoad = func(id any) (any, error) { return storageFromID(id, storages) }
	obj, err := u.load()
	if err != nil {
		return nil, pickleErr(err)
	}
	return buildStateDict(obj, func(s *storageRef) error {
		f := files[prefix+"data/"+s.key]
		if f == nil {
			return fmt.Errorf("%w: storage record data/%s is missing from the archive", ErrCorrupt, s.key)
		}
		want := s.numel * s.dt.size()
		if f.UncompressedSize64 < uint64(want) {
			return fmt.Errorf("%w: storage record data/%s holds %d bytes; its tensors need %d",
				ErrCorrupt, s.key, f.UncompressedSize64, want)
		}
		var raw []byte
		if f.Method == zip.Store && want <= size {
			// torch stores records uncompressed: read into one exact buffer.
			raw = make([]byte, want)
			rc, err := f.Open()
			if err == nil {
				_, err = io.ReadFull(rc, raw)
				if err == nil && f.UncompressedSize64 == uint64(want) {
					// Reading to EOF makes archive/zip verify the CRC.
					if _, err = rc.Read(make([]byte, 1)); err == io.EOF {
						err = nil
					} else if err == nil {
						err = errors.New("record longer than its header says")
					}
				}
				rc.Close()
			}
			if err != nil {
				return fmt.Errorf("%w: storage record data/%s is damaged or truncated (%v): re-download or re-save the checkpoint", ErrCorrupt, s.key, err)
			}
		} else if raw, err = readRecord(f, want); err != nil {
			return err
		}
		if int64(len(raw)) < want {
			return fmt.Errorf("%w: storage record data/%s is truncated", ErrCorrupt, s.key)
		}
		s.raw = raw[:want]
		return nil
	})
}

// readRecord reads up to limit bytes of a zip record, growing the buffer
// as data arrives so that a lying header cannot force a huge allocation.
func readRecord(f *zip.File, limit int64) ([]byte, error) {
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%w: zip record %s: %v", ErrCorrupt, f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit))
	if err != nil {
		return nil, fmt.Errorf("%w: zip record %s is damaged or truncated (%v): re-download or re-save the checkpoint", ErrCorrupt, f.Name, err)
	}
	return b, nil
}

func readLegacyPTH(r io.ReaderAt, size int64) (*StateDict, error) {
	if size < 0 {
		return nil, fmt.Errorf("%w: negative size", ErrCorrupt)
	}
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.NewSectionReader(r, 0, size)); err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	data := buf.Bytes()
	u := &unpickler{data: data, call: callGlobal}
	magic, err := u.load()
	if m, ok := magic.(*big.Int); err != nil || !ok || m.Cmp(legacyMagic) != 0 {
		if err == nil {
			err = fmt.Errorf("%w: a pickle without torch's magic number, so not written by torch.save", ErrCorrupt)
		}
		return nil, pickleErr(err)
	}
	version, err := u.load()
	if err != nil {
		return nil, pickleErr(err)
	}
	if version != int64(1001) {
		return nil, fmt.Errorf("%w: legacy format version %v (want 1001)", ErrUnsupported, version)
	}
	info, err := u.load()
	if err != nil {
		return nil, pickleErr(err)
	}
	if d, ok := info.(*pyDict); ok {
		if le, ok := d.get("little_endian"); ok && le != true {
			return nil, fmt.Errorf("%w: big-endian checkpoint: re-save it on a little-endian machine", ErrUnsupported)
		}
	}
	storages := map[string]*storageRef{}
	u.persistentLoad = func(id any) (any, error) { return storageFromID(id, storages) }
	obj, err := u.load()
	if err != nil {
		return nil, pickleErr(err)
	}
	u.persistentLoad = nil
	keysObj, err := u.load()
	if err != nil {
		return nil, pickleErr(err)
	}
	keys, ok := keysObj.(*pyList)
	if !ok {
		return nil, fmt.Errorf("%w: legacy checkpoint lacks its storage key list", ErrCorrupt)
	}
	pos := int64(u.pos)
	for _, k := range keys.items {
		ks, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("%w: storage key is a %s", ErrCorrupt, pyType(k))
		}
		if int64(len(data))-pos < 8 {
			return nil, fmt.Errorf("%w: truncated before storage %s: re-download or re-save the checkpoint", ErrCorrupt, ks)
		}
		numel := int64(binary.LittleEndian.Uint64(data[pos:]))
		pos += 8
		s := storages[ks]
		if s == nil {
			return nil, fmt.Errorf("%w: storage %s is not used by the pickle", ErrCorrupt, ks)
		}
		left := int64(len(data)) - pos
		if numel < 0 || numel > left/s.dt.size() {
			return nil, fmt.Errorf("%w: storage %s of %d elements is truncated: re-download or re-save the checkpoint", ErrCorrupt, ks, numel)
		}
		s.numel = numel
		s.raw = data[pos : pos+numel*s.dt.size()]
		pos += numel * s.dt.size()
	}
	return buildStateDict(obj, func(s *storageRef) error {
		return fmt.Errorf("%w: storage %s has no data in the file", ErrCorrupt, s.key)
	})
}

func pickleErr(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return fmt.Errorf("pickle is damaged or incomplete (re-download or re-save the checkpoint): %w", err)
	}
	return err
}

// buildStateDict finds the state_dict in obj and materializes its
// tensors, calling fill for each storage whose bytes are not yet read.
func buildStateDict(obj any, fill func(*storageRef) error) (*StateDict, error) {
	d, err := stateDictOf(obj)
	if err != nil {
		return nil, err
	}
	sd := &StateDict{Tensors: make(map[string]*sdk.Tensor, len(d.keys))}
	for i, k := range d.keys {
		name := k.(string)
		ref := d.vals[i].(*tensorRef)
		if ref.storage.raw == nil {
			if err := fill(ref.storage); err != nil {
				return nil, err
			}
		}
		t, err := ref.materialize()
		if err != nil {
			return nil, fmt.Errorf("tensor %q: %w", name, err)
		}
		sd.Keys = append(sd.Keys, name)
		sd.Tensors[name] = t
	}
	return sd, nil
}
