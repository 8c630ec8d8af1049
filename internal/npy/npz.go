package npy

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// NPZWriter writes named arrays into a .npz file. Create it with Create,
// Add arrays, then Close, which renames the finished file into place. Until
// Close succeeds the target path is untouched: a failed run never leaves a
// half-written file where a good one was. An NPZWriter is not safe for
// concurrent use.
type NPZWriter struct {
	path  string
	f     *os.File
	zw    *zip.Writer
	names map[string]bool
	err   error // first failure; Close then discards the file
	done  bool
}

// Create starts a .npz file at path, written first to a temporary file
// beside it. The caller must Close (or Abort) the writer.
func Create(path string) (*NPZWriter, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return nil, fmt.Errorf("npy: create %s: %w", path, err)
	}
	return &NPZWriter{path: path, f: f, zw: zip.NewWriter(f), names: map[string]bool{}}, nil
}

// Add writes t as the array called name (stored as name.npy, the way
// numpy.savez does; numpy.load(path)[name] reads it back). Names must be
// unique and non-empty.
func (w *NPZWriter) Add(name string, t *sdk.Tensor) error {
	if w.done {
		return fmt.Errorf("npy: add %q to %s: writer is closed", name, w.path)
	}
	if w.err != nil {
		return fmt.Errorf("npy: add %q to %s after an earlier failure: %w", name, w.path, w.err)
	}
	if name == "" || w.names[name] {
		return fmt.Errorf("npy: add %q to %s: names must be unique and non-empty", name, w.path)
	}
	if err := t.Validate(); err != nil {
		return fmt.Errorf("npy: add %q: %w", name, err)
	}
	mw, err := w.zw.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
	if err == nil {
		err = Write(mw, t)
	}
	if err != nil {
		w.err = err
		return fmt.Errorf("npy: add %q to %s: %w", name, w.path, err)
	}
	w.names[name] = true
	return nil
}

// Close finishes the archive and renames it to the path given to Create.
// If an Add failed, Close removes the temporary file, leaves the path as it
// was, and returns the failure. Close is idempotent.
func (w *NPZWriter) Close() error {
	if w.done {
		return nil
	}
	w.done = true
	err := w.err
	if err == nil {
		err = w.zw.Close()
	}
	if err == nil {
		err = w.f.Chmod(0o644)
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(w.f.Name(), w.path)
	}
	if err != nil {
		os.Remove(w.f.Name())
		return fmt.Errorf("npy: write %s: %w", w.path, err)
	}
	return nil
}

// Abort discards everything written so far and leaves the path as it
// was. It is safe to call after Close, and does nothing then.
func (w *NPZWriter) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}

// ReadNPZ reads every array of a .npz file (numpy.savez or
// numpy.savez_compressed) and returns them by name, with the names in
// archive order.
func ReadNPZ(path string) (map[string]*sdk.Tensor, []string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, fmt.Errorf("npy: %w", err)
	}
	arrays, order, err := ReadNPZFrom(f, st.Size())
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return arrays, order, nil
}

// ReadNPZFrom reads a .npz archive of size bytes from r; see ReadNPZ.
func ReadNPZFrom(r io.ReaderAt, size int64) (map[string]*sdk.Tensor, []string, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, nil, formatErr("not a .npz (zip) archive: %v", err)
	}
	arrays := map[string]*sdk.Tensor{}
	var order []string
	for _, zf := range zr.File {
		if strings.HasSuffix(zf.Name, "/") {
			continue
		}
		name := strings.TrimSuffix(zf.Name, ".npy")
		if _, dup := arrays[name]; dup {
			return nil, nil, formatErr("array %q appears twice", name)
		}
		t, err := readMember(zf)
		if err != nil {
			return nil, nil, fmt.Errorf("array %q: %w", name, err)
		}
		arrays[name] = t
		order = append(order, name)
	}
	return arrays, order, nil
}

func readMember(zf *zip.File) (*sdk.Tensor, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, formatErr("%v", err)
	}
	defer rc.Close()
	limit := int64(-1)
	if zf.UncompressedSize64 <= 1<<62 {
		limit = int64(zf.UncompressedSize64)
	}
	t, err := read(rc, limit)
	if err == nil {
		// Reading to the end makes archive/zip verify the CRC-32.
		_, err = io.Copy(io.Discard, rc)
	}
	if err != nil {
		if errors.Is(err, zip.ErrChecksum) || errors.Is(err, zip.ErrFormat) {
			return nil, formatErr("%v", err)
		}
		return nil, err
	}
	return t, nil
}
