package zoo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Cache is a directory of verified weights. It is safe for concurrent use,
// also by several processes sharing the directory.
type Cache struct {
	dir      string
	offline  bool
	client   *http.Client
	progress func(name string, done, total int64)
	retries  int
}

// CacheOption configures OpenCache.
type CacheOption func(*Cache) error

// WithOffline makes Fetch use only cached files.
func WithOffline(offline bool) CacheOption {
	return func(c *Cache) error { c.offline = offline; return nil }
}

// WithHTTPClient sets the client downloads use (default: a client with no
// overall timeout, since weights can take minutes).
func WithHTTPClient(h *http.Client) CacheOption {
	return func(c *Cache) error {
		if h == nil {
			return errors.New("zoo: WithHTTPClient(nil)")
		}
		c.client = h
		return nil
	}
}

// WithProgress reports download progress: bytes done and the total (-1
// when the server does not say). It is called from Fetch's goroutine.
func WithProgress(f func(name string, done, total int64)) CacheOption {
	return func(c *Cache) error { c.progress = f; return nil }
}

// WithRetries sets how many times one Fetch resumes an interrupted
// download before it gives up (default 3). The partial file stays, so a
// later Fetch resumes too.
func WithRetries(n int) CacheOption {
	return func(c *Cache) error {
		if n < 0 {
			return fmt.Errorf("zoo: WithRetries(%d): must be >= 0", n)
		}
		c.retries = n
		return nil
	}
}

// DefaultCacheDir is $GOZOO_CACHE, or ~/.cache/gozoo.
func DefaultCacheDir() string {
	if d := os.Getenv("GOZOO_CACHE"); d != "" {
		return d
	}
	if d, err := os.UserCacheDir(); err == nil {
		return filepath.Join(d, "gozoo")
	}
	return filepath.Join(os.TempDir(), "gozoo")
}

// OpenCache returns the cache rooted at dir; weights live in dir/weights.
func OpenCache(dir string, opts ...CacheOption) (*Cache, error) {
	if dir == "" {
		return nil, errors.New("zoo: empty cache directory: set GOZOO_CACHE")
	}
	c := &Cache{dir: dir, client: &http.Client{}, retries: 3}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Dir is the folder weights are stored in.
func (c *Cache) Dir() string { return filepath.Join(c.dir, "weights") }

// Path is where e's weights are (or would be) cached. Local-path weights
// are used in place and not copied.
func (c *Cache) Path(e *Entry) string {
	if e.Weights.Path != "" {
		return e.Weights.Path
	}
	return filepath.Join(c.Dir(), e.Weights.FileName())
}

// Cached reports whether e's weights are in the cache (unverified).
func (c *Cache) Cached(e *Entry) bool {
	_, err := os.Stat(c.Path(e))
	return err == nil
}

// Fetch returns the path of e's verified weights, downloading (or
// unpacking embedded weights) when they are not cached. A cached file is
// verified before it is returned; a corrupt one is removed and fetched
// again (in offline mode: an error).
func (c *Cache) Fetch(ctx context.Context, e *Entry) (string, error) {
	w := e.Weights
	if w.Path != "" {
		if err := verifyFile(w.Path, w); err != nil {
			return "", fmt.Errorf("%s weights %s: %w", e.Name, w.Path, err)
		}
		return w.Path, nil
	}
	dest := c.Path(e)
	if err := verifyFile(dest, w); err == nil {
		return dest, nil
	} else if !errors.Is(err, os.ErrNotExist) && c.offline {
		return "", fmt.Errorf("%s: cached weights %s: %w; offline mode: delete it and pull again with network access", e.Name, dest, err)
	}
	if c.offline && w.Embedded == "" {
		return "", fmt.Errorf("%w: %s weights are not in the cache (%s) and offline mode forbids downloading %s: run `gozoo zoo pull %s` with network access, or copy the file there",
			ErrOffline, e.Name, dest, w.URL, e.Name)
	}
	if err := os.MkdirAll(c.Dir(), 0o755); err != nil {
		return "", fmt.Errorf("create cache: %w (set GOZOO_CACHE to a writable folder)", err)
	}
	unlock, err := lockFile(ctx, dest+".lock")
	if err != nil {
		return "", fmt.Errorf("%s: lock %s: %w", e.Name, dest+".lock", err)
	}
	defer unlock()
	// Another process may have finished while we waited for the lock.
	if err := verifyFile(dest, w); err == nil {
		return dest, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		if err := os.Remove(dest); err != nil {
			return "", err
		}
	}
	part := dest + ".part"
	if w.Embedded != "" {
		err = c.unpack(e, part)
	} else {
		err = c.download(ctx, e, part)
	}
	if err != nil {
		return "", err
	}
	if err := verifyFile(part, w); err != nil {
		os.Remove(part) // wrong bytes never reach the cache
		return "", fmt.Errorf("%s: downloaded %s: %w; the partial file was removed, pull again (or check the catalog's checksum)", e.Name, w.URL, err)
	}
	if err := os.Rename(part, dest); err != nil {
		return "", err
	}
	return dest, nil
}

func (c *Cache) unpack(e *Entry, part string) error {
	b, err := embeddedModels.ReadFile("models/" + e.Weights.Embedded)
	if err != nil {
		return fmt.Errorf("%s: embedded weights %q: %w (the catalog names a file gozoo does not embed)", e.Name, e.Weights.Embedded, err)
	}
	return writeSync(part, b)
}

func writeSync(path string, b []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	return errors.Join(err, f.Close())
}

// download fills part from e's URL, resuming from part's current size,
// retrying interrupted transfers.
func (c *Cache) download(ctx context.Context, e *Entry, part string) error {
	var err error
	for attempt := 0; attempt <= c.retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
			}
		}
		var retry bool
		retry, err = c.downloadOnce(ctx, e, part)
		if err == nil || !retry || ctx.Err() != nil {
			break
		}
	}
	if err != nil {
		if st, serr := os.Stat(part); serr == nil && st.Size() > 0 {
			return fmt.Errorf("%s: download %s: %w (the partial download stays in %s and the next pull resumes it)", e.Name, e.Weights.URL, err, part)
		}
		os.Remove(part) // nothing arrived: leave no empty file
		return fmt.Errorf("%s: download %s: %w", e.Name, e.Weights.URL, err)
	}
	return nil
}

// downloadOnce makes one request; retry says whether resuming may help.
// part is created only once the server answers with content, so a
// request that fails leaves no empty file behind.
func (c *Cache) downloadOnce(ctx context.Context, e *Entry, part string) (retry bool, err error) {
	have := int64(0)
	if st, err := os.Stat(part); err == nil {
		have = st.Size()
	} else if !errors.Is(err, os.ErrNotExist) {
		return false, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.Weights.URL, nil)
	if err != nil {
		return false, err
	}
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return true, err
	}
	defer resp.Body.Close()
	total := int64(-1)
	flags := os.O_CREATE | os.O_WRONLY
	switch resp.StatusCode {
	case http.StatusOK: // no resume: start over
		flags |= os.O_TRUNC
		have = 0
		total = resp.ContentLength
	case http.StatusPartialContent:
		var start, end, size int64
		if _, err := fmt.Sscanf(resp.Header.Get("Content-Range"), "bytes %d-%d/%d", &start, &end, &size); err != nil || start != have {
			return false, fmt.Errorf("server answered range %q to a request from byte %d", resp.Header.Get("Content-Range"), have)
		}
		flags |= os.O_APPEND
		total = size
	case http.StatusRequestedRangeNotSatisfiable:
		return false, nil // part is complete already; verification decides
	default:
		return resp.StatusCode >= 500, fmt.Errorf("HTTP %s", resp.Status)
	}
	if e.Weights.Size > 0 && total > 0 && total != e.Weights.Size {
		return false, fmt.Errorf("%w: server has %d bytes; the catalog says %d", ErrChecksum, total, e.Weights.Size)
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return false, err
	}
	defer func() { err = errors.Join(err, f.Close()) }()
	name := e.Name
	done := have
	buf := make([]byte, 256<<10)
	last := time.Time{}
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, err := f.Write(buf[:n]); err != nil {
				return false, err
			}
			done += int64(n)
			if c.progress != nil && time.Since(last) > 100*time.Millisecond {
				c.progress(name, done, total)
				last = time.Now()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return true, rerr
		}
	}
	if total > 0 && done != total {
		return true, fmt.Errorf("connection closed at byte %d of %d", done, total)
	}
	if c.progress != nil {
		c.progress(name, done, total)
	}
	return false, f.Sync()
}

// verifyFile checks path against w's size and hash.
func verifyFile(path string, w Weights) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if w.Size > 0 {
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if st.Size() != w.Size {
			return fmt.Errorf("%w: %d bytes; want %d", ErrChecksum, st.Size(), w.Size)
		}
	}
	var h hash.Hash = sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	got := hex.EncodeToString(h.Sum(nil))
	if want := strings.ToLower(w.SHA256); want != "" && got != want {
		return fmt.Errorf("%w: sha256 %s; want %s", ErrChecksum, got, want)
	}
	if p := strings.ToLower(w.HashPrefix); p != "" && !strings.HasPrefix(got, p) {
		return fmt.Errorf("%w: sha256 %s does not start with %s", ErrChecksum, got, p)
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can
// cancel the wait. The returned function removes the file and releases
// the lock, so no lock file stays in the cache. A process that waited on
// a file removed meanwhile sees that the path now names another file (or
// none) and locks again.
func lockFile(ctx context.Context, path string) (func(), error) {
	for {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
		if err != nil {
			return nil, err
		}
		locked, err := tryLock(ctx, f)
		if err != nil {
			f.Close()
			return nil, err
		}
		if !locked {
			f.Close()
			continue
		}
		if !samePath(f, path) {
			// The holder before us removed it: ours is a stale file.
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
			continue
		}
		return func() {
			os.Remove(path)
			syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
			f.Close()
		}, nil
	}
}

// tryLock waits for an exclusive flock on f, polling until ctx is done.
func tryLock(ctx context.Context, f *os.File) (bool, error) {
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			return false, err
		}
		select {
		case <-ctx.Done():
			return false, fmt.Errorf("waiting for another pull of the same weights: %w", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// samePath reports whether path still names the open file f.
func samePath(f *os.File, path string) bool {
	a, err := f.Stat()
	if err != nil {
		return false
	}
	b, err := os.Stat(path)
	return err == nil && os.SameFile(a, b)
}
