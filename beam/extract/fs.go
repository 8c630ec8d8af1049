package extract

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam/io/filesystem"
)

// Paths with a scheme (gs://, s3://, memfs://) go through Beam's
// filesystems; others are local files, read as gozoo extract reads them.

// isLocal reports whether path is a local file path.
func isLocal(path string) bool {
	return !strings.Contains(path, "://") || strings.HasPrefix(path, "file://")
}

// localPath strips file:// from a local path.
func localPath(path string) string { return strings.TrimPrefix(path, "file://") }

// dirOf returns the folder of path: "gs://b/x" for "gs://b/x/y".
func dirOf(path string) string {
	if isLocal(path) {
		return filepath.Dir(localPath(path))
	}
	i := strings.LastIndexByte(path, '/')
	if i < strings.Index(path, "://")+3 {
		return path
	}
	return path[:i]
}

// baseName returns the last element of path.
func baseName(path string) string {
	if isLocal(path) {
		return filepath.Base(localPath(path))
	}
	return path[strings.LastIndexByte(path, '/')+1:]
}

// joinPath returns rel under dir, or rel when it is absolute or has a
// scheme.
func joinPath(dir, rel string) string {
	switch {
	case strings.Contains(rel, "://"), filepath.IsAbs(rel):
		return rel
	case isLocal(dir):
		return filepath.Join(localPath(dir), rel)
	}
	return strings.TrimSuffix(dir, "/") + "/" + strings.TrimPrefix(rel, "./")
}

func fsFor(ctx context.Context, path string) (filesystem.Interface, error) {
	fs, err := filesystem.New(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return fs, nil
}

// openRead opens path through Beam's filesystems.
func openRead(ctx context.Context, path string) (io.ReadCloser, error) {
	if isLocal(path) {
		return os.Open(localPath(path))
	}
	fs, err := fsFor(ctx, path)
	if err != nil {
		return nil, err
	}
	r, err := fs.OpenRead(ctx, path)
	if err != nil {
		fs.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return closeBoth{r, fs}, nil
}

type closeBoth struct {
	io.ReadCloser
	fs io.Closer
}

func (c closeBoth) Close() error { return errors.Join(c.ReadCloser.Close(), c.fs.Close()) }

// list expands a glob through Beam's filesystems.
func list(ctx context.Context, glob string) ([]string, error) {
	if isLocal(glob) {
		return filepath.Glob(localPath(glob))
	}
	fs, err := fsFor(ctx, glob)
	if err != nil {
		return nil, err
	}
	defer fs.Close()
	return fs.List(ctx, glob)
}

// tempName returns a name beside path that no other attempt uses:
// PATH-less-extension.tmp-RANDOM.ext.
func tempName(path string) string {
	var b [8]byte
	rand.Read(b[:])
	ext := filepath.Ext(path)
	return strings.TrimSuffix(path, ext) + ".tmp-" + hex.EncodeToString(b[:]) + ext
}

// isTemp reports whether name is a temporary name of tempName.
func isTemp(name string) bool { return strings.Contains(name, ".tmp-") }

// stageFile copies a remote file into a new file in dir and returns its
// path.
func stageFile(ctx context.Context, path, dir string) (string, error) {
	r, err := openRead(ctx, path)
	if err != nil {
		return "", err
	}
	defer r.Close()
	f, err := os.CreateTemp(dir, "stage-*"+filepath.Ext(baseName(path)))
	if err != nil {
		return "", err
	}
	_, err = io.Copy(f, io.LimitReader(r, 1<<30+1))
	if err = errors.Join(err, f.Close()); err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("copy %s: %w", path, err)
	}
	return f.Name(), nil
}

// publish puts the local file src at dest and removes src. A local dest
// is renamed into place (atomic on one filesystem); a remote one is
// uploaded under a temporary name and renamed where the filesystem can
// rename, else written under its own name (object stores such as GCS
// make an object visible only once it is whole).
func publish(ctx context.Context, src, dest string) error {
	defer os.Remove(src)
	if isLocal(dest) {
		if err := os.Rename(src, localPath(dest)); err != nil {
			return fmt.Errorf("publish %s: %w", dest, err)
		}
		return nil
	}
	fs, err := fsFor(ctx, dest)
	if err != nil {
		return err
	}
	defer fs.Close()
	rn, canRename := fs.(filesystem.Renamer)
	target := dest
	if canRename {
		target = tempName(dest)
	}
	if err := upload(ctx, fs, src, target); err != nil {
		return err
	}
	if canRename {
		if err := rn.Rename(ctx, target, dest); err != nil {
			return fmt.Errorf("publish %s: %w", dest, err)
		}
	}
	return nil
}

func upload(ctx context.Context, fs filesystem.Interface, src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	w, err := fs.OpenWrite(ctx, dest)
	if err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	_, err = io.Copy(w, in)
	if err = errors.Join(err, w.Close()); err != nil {
		return fmt.Errorf("write %s: %w", dest, err)
	}
	return nil
}

// writeFile writes b to path whole (see publish).
func writeFile(ctx context.Context, path string, b []byte) error {
	dir := os.TempDir()
	if isLocal(path) {
		dir = filepath.Dir(localPath(path))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
	}
	f, err := os.CreateTemp(dir, baseName(path)+".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		os.Remove(f.Name())
		return err
	}
	return publish(ctx, f.Name(), path)
}

// readFile reads path through Beam's filesystems.
func readFile(ctx context.Context, path string) ([]byte, error) {
	r, err := openRead(ctx, path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return io.ReadAll(io.LimitReader(r, 1<<30))
}

// remove deletes path where the filesystem can.
func remove(ctx context.Context, path string) error {
	if isLocal(path) {
		return os.RemoveAll(localPath(path))
	}
	fs, err := fsFor(ctx, path)
	if err != nil {
		return err
	}
	defer fs.Close()
	if rm, ok := fs.(filesystem.Remover); ok {
		return rm.Remove(ctx, path)
	}
	return nil
}
