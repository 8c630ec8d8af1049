package backbonev1

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gozoo/gozoo/sdk"
)

// FileMinBytes is the smallest tensor a host and a plugin that share files
// pass as a file (TensorFile) rather than inline. Below it, opening and
// removing a file costs more than copying the bytes through gRPC.
const FileMinBytes = 256 << 10

// maxProbeBytes bounds the probe file a plugin reads back.
const maxProbeBytes = 256

// TensorByteSize returns the number of element bytes t holds.
func TensorByteSize(t *sdk.Tensor) int64 {
	if t.Int64 != nil {
		return int64(len(t.Int64)) * 8
	}
	return int64(len(t.Float32)) * 4
}

// WriteTensorFile writes t's element bytes to a new file at path and
// returns the chunk, named name, that references it. The file is created
// exclusively with mode 0600, never through an existing file or symbolic
// link; on error no file is left behind. The caller removes the file when
// it is no longer needed.
func WriteTensorFile(path, name string, t *sdk.Tensor) (*TensorChunk, error) {
	if err := t.Validate(); err != nil {
		return nil, fmt.Errorf("tensor %q: %w", name, err)
	}
	if !filepath.IsAbs(path) {
		return nil, fmt.Errorf("write tensor file %q: the path must be absolute", path)
	}
	b := TensorBytes(t)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|createFlags, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write tensor file: %w", err)
	}
	_, err = f.Write(b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, errors.Join(fmt.Errorf("write tensor file: %w", err), removeQuiet(path))
	}
	return &TensorChunk{
		Name:  name,
		Dtype: DTypeToProto(t.DType()),
		Shape: t.Shape,
		File:  &TensorFile{Path: path, Size: int64(len(b))},
	}, nil
}

// ReadTensorFile reads the tensor that chunk c references through
// c.File. The file must be a regular file (not a symbolic link, device or
// pipe) whose length equals c.File.Size, which must equal the bytes that
// c's dtype and shape need; the checks come before any allocation, so a
// lying size or shape costs nothing. Every failure wraps sdk.ErrBadInput.
// ReadTensorFile does not remove the file.
func ReadTensorFile(c *TensorChunk) (*sdk.Tensor, error) {
	tf := c.GetFile()
	if tf == nil {
		return nil, fmt.Errorf("%w: tensor chunk names no file", sdk.ErrBadInput)
	}
	if len(c.GetData()) != 0 || c.GetOffset() != 0 {
		return nil, fmt.Errorf("%w: tensor chunk names file %q and also carries data at byte %d: a file chunk must be the tensor's only chunk",
			sdk.ErrBadInput, tf.GetPath(), c.GetOffset())
	}
	if !filepath.IsAbs(tf.GetPath()) {
		return nil, fmt.Errorf("%w: tensor file %q: the path must be absolute", sdk.ErrBadInput, tf.GetPath())
	}
	_, size, err := tensorSize(c.GetDtype(), c.GetShape())
	if err != nil {
		return nil, err
	}
	if tf.GetSize() != size {
		return nil, fmt.Errorf("%w: tensor file %s claims %d bytes, but %s %s needs %d",
			sdk.ErrBadInput, tf.GetPath(), tf.GetSize(), DTypeFromProto(c.GetDtype()), sdk.FormatShape(c.GetShape()), size)
	}
	f, err := openRegular(tf.GetPath())
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("%w: tensor file: %w", sdk.ErrBadInput, err)
	}
	if st.Size() != size {
		return nil, fmt.Errorf("%w: tensor file %s holds %d bytes, but %s %s needs %d",
			sdk.ErrBadInput, tf.GetPath(), st.Size(), DTypeFromProto(c.GetDtype()), sdk.FormatShape(c.GetShape()), size)
	}
	var a Assembler
	if err := a.start(c); err != nil {
		return nil, err
	}
	if _, err := io.ReadFull(f, a.buf); err != nil {
		return nil, fmt.Errorf("%w: read tensor file %s: %w", sdk.ErrBadInput, tf.GetPath(), err)
	}
	a.have = a.size
	return a.Tensor()
}

// WriteProbe writes token to a new file at path, for a DescribeRequest
// probe. The caller removes it.
func WriteProbe(path, token string) error {
	if len(token) > maxProbeBytes {
		return fmt.Errorf("probe token of %d bytes: at most %d", len(token), maxProbeBytes)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|createFlags, 0o600)
	if err != nil {
		return fmt.Errorf("write probe file: %w", err)
	}
	_, err = f.WriteString(token)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return errors.Join(fmt.Errorf("write probe file: %w", err), removeQuiet(path))
	}
	return nil
}

// CheckProbe reports whether the regular file at path holds exactly token,
// which tells a plugin that it sees the host's files.
func CheckProbe(path, token string) bool {
	if token == "" || !filepath.IsAbs(path) {
		return false
	}
	f, err := openRegular(path)
	if err != nil {
		return false
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxProbeBytes+1))
	return err == nil && bytes.Equal(b, []byte(token))
}

// openRegular opens path for reading without following a final symbolic
// link and without blocking on a pipe, and refuses anything but a regular
// file. Errors wrap sdk.ErrBadInput.
func openRegular(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openFlags, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: open tensor file: %w", sdk.ErrBadInput, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w: tensor file: %w", sdk.ErrBadInput, err)
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("%w: tensor file %s is a %s, not a regular file", sdk.ErrBadInput, path, kind(st.Mode()))
	}
	return f, nil
}

func kind(m os.FileMode) string {
	switch {
	case m.IsDir():
		return "folder"
	case m&os.ModeSymlink != 0:
		return "symbolic link"
	case m&os.ModeNamedPipe != 0:
		return "named pipe"
	case m&os.ModeSocket != 0:
		return "socket"
	case m&os.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

func removeQuiet(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
