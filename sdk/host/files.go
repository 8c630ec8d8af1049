package host

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/sdk"
	"github.com/hashicorp/go-hclog"
)

// filesDirPrefix starts the name of every Client's tensor folder; the
// host's process id follows, so that folders a killed host left behind
// can be found and removed (sweepStale).
const filesDirPrefix = "gozoo-host-"

// files is a Client's private folder for tensor files (the shared-memory
// path), made on first use and removed by Client.Close.
type files struct {
	mu     sync.Mutex
	dir    string
	err    error // why the folder could not be made; tensors then stream
	closed bool

	spare []*os.File // input files kept for reuse (see putInput)

	seq     atomic.Uint64 // names files uniquely within the folder
	in, out atomic.Int64  // tensors passed as files, for tests
}

// Spare input files: rewriting a file's existing pages costs a sixth of
// filling new ones (4.8 MB on /dev/shm: 0.7 ms against 4.3 ms), so a few
// input files stay between calls, bounded in number and size.
const (
	maxSpareFiles = 2
	maxSpareBytes = 64 << 20
)

// writeInput writes t into an input file in dir, reusing a spare one when
// there is one, and returns the open file and its reference chunk.
func (f *files) writeInput(dir string, t *sdk.Tensor) (*os.File, *backbonev1.TensorChunk, error) {
	f.mu.Lock()
	var file *os.File
	if n := len(f.spare); n > 0 {
		file, f.spare = f.spare[n-1], f.spare[:n-1]
	}
	f.mu.Unlock()
	if file == nil || filepath.Dir(file.Name()) != dir {
		if file != nil {
			file.Close()
			os.Remove(file.Name())
		}
		var err error
		file, err = os.OpenFile(filepath.Join(dir, f.name("in")), os.O_RDWR|os.O_CREATE|os.O_EXCL|createFlags, 0o600)
		if err != nil {
			return nil, nil, err
		}
	}
	b := backbonev1.TensorBytes(t)
	_, err := file.WriteAt(b, 0)
	if err == nil {
		err = file.Truncate(int64(len(b)))
	}
	if err != nil {
		file.Close()
		os.Remove(file.Name())
		return nil, nil, err
	}
	c := &backbonev1.TensorChunk{Dtype: backbonev1.DTypeToProto(t.DType()), Shape: t.Shape,
		File: &backbonev1.TensorFile{Path: file.Name(), Size: int64(len(b))}}
	return file, c, nil
}

// putInput keeps an input file whose call is over for reuse, or removes
// it when enough are kept, it is large, or the folder is gone.
func (f *files) putInput(file *os.File, size int64) {
	f.mu.Lock()
	keep := !f.closed && f.dir == filepath.Dir(file.Name()) && len(f.spare) < maxSpareFiles && size <= maxSpareBytes
	if keep {
		f.spare = append(f.spare, file)
	}
	f.mu.Unlock()
	if !keep {
		file.Close()
		os.Remove(file.Name())
	}
}

// folder returns the tensor folder, making it on first use. An error
// means tensors must stream.
func (f *files) folder(log hclog.Logger) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return "", fmt.Errorf("%w: host client is closed", sdk.ErrClosed)
	}
	if f.dir != "" || f.err != nil {
		return f.dir, f.err
	}
	f.dir, f.err = makeFilesDir()
	if f.err != nil {
		log.Warn("no folder for tensor files; tensors stream through gRPC", "error", f.err)
	}
	return f.dir, f.err
}

// makeFilesDir makes a mode-0700 folder under /dev/shm, or under the
// temporary folder when /dev/shm is missing or refuses.
func makeFilesDir() (string, error) {
	var bases []string
	if st, err := os.Stat("/dev/shm"); err == nil && st.IsDir() {
		bases = append(bases, "/dev/shm")
	}
	bases = append(bases, os.TempDir())
	sweepOnce.Do(func() {
		for _, base := range bases {
			sweepStale(base, filesDirPrefix)
		}
	})
	var errs []error
	for _, base := range bases {
		dir, err := os.MkdirTemp(base, fmt.Sprintf("%s%d-", filesDirPrefix, os.Getpid()))
		if err == nil {
			return dir, nil
		}
		errs = append(errs, err)
	}
	return "", fmt.Errorf("host: make a folder for tensor files: %w", errors.Join(errs...))
}

var sweepOnce sync.Once

// name returns a new file name for kind ("in", "out", "probe").
func (f *files) name(kind string) string {
	return fmt.Sprintf("%s-%d", kind, f.seq.Add(1))
}

// remove deletes the folder and everything left in it; the folder is not
// made again.
func (f *files) remove() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	dir := f.dir
	f.dir = ""
	for _, file := range f.spare {
		file.Close()
	}
	f.spare = nil
	if dir == "" {
		return nil
	}
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("host: remove the tensor folder %s: %w", dir, err)
	}
	return nil
}

// sweep removes the files named prefix* in dir: what a failed or killed
// call may have left.
func sweep(dir, prefix string) {
	names, _ := filepath.Glob(filepath.Join(dir, prefix+"*"))
	for _, n := range names {
		os.Remove(n)
	}
}

// sharedFiles reports whether process generation gen reads and writes
// tensor files in the Client's folder, and returns the folder. It asks
// once per generation: the host writes a probe file with a random token
// and sends its path in a DescribeRequest; a plugin that reads the token
// back says so in DescribeResponse.transport. Plugins that predate the
// probe, or run where the folder is not visible, answer no.
func (p *proc) sharedFiles(ctx context.Context, rpc backbonev1.BackboneClient, gen int) (string, bool, error) {
	if p.c.cfg.noFiles {
		return "", false, nil
	}
	if err := p.lockCtx(ctx); err != nil {
		return "", false, err
	}
	known, ok := p.filesGen == gen, p.filesOK
	p.mu.Unlock()
	if known && !ok {
		return "", false, nil
	}
	dir, err := p.c.files.folder(p.c.hlog)
	if err != nil {
		return "", false, nil
	}
	if known {
		return dir, true, nil
	}
	var tok [16]byte
	rand.Read(tok[:])
	token := hex.EncodeToString(tok[:])
	path := filepath.Join(dir, p.c.files.name("probe"))
	if err := backbonev1.WriteProbe(path, token); err != nil {
		p.c.hlog.Warn("cannot write a probe file; tensors stream through gRPC", "plugin", p.info.Name, "error", err)
		return "", false, nil
	}
	resp, err := rpc.Describe(ctx, &backbonev1.DescribeRequest{ProbePath: path, ProbeToken: token})
	os.Remove(path)
	switch {
	case err == nil:
		ok = resp.GetTransport().GetSharedFiles()
	case ctx.Err() != nil || p.crashed(ctx, err):
		return "", false, err // the caller recovers or gives up
	default:
		// A plugin whose Describe fails can still extract: stream.
		p.c.hlog.Warn("plugin did not answer the transport probe; tensors stream through gRPC", "plugin", p.info.Name, "error", err)
		ok = false
	}
	p.mu.Lock()
	if p.gen == gen {
		p.filesGen, p.filesOK = gen, ok
	}
	p.mu.Unlock()
	p.c.hlog.Debug("tensor transport", "plugin", p.info.Name, "shared_files", ok, "folder", dir)
	return dir, ok, nil
}

// inside reports whether path names a file directly in dir whose name
// starts with prefix: the only files a plugin may answer with.
func inside(path, dir, prefix string) bool {
	return filepath.IsAbs(path) && filepath.Clean(path) == path && filepath.Dir(path) == dir &&
		strings.HasPrefix(filepath.Base(path), prefix)
}
