package host

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gozoo/gozoo/sdk"
)

// cacheVersion changes whenever cacheEntry's meaning does; entries of
// another version are ignored and rewritten.
const cacheVersion = 1

// cacheEntry is what the host remembers about one plugin file: its
// identity (stat fields that change whenever the file is written or
// replaced), the sha256 of its bytes, and, once the plugin has answered,
// its Describe result, or the error of its failed start.
type cacheEntry struct {
	Version int      `json:"version"`
	Path    string   `json:"path"`
	Stat    fileStat `json:"stat"`
	SHA256  string   `json:"sha256"`
	// Sources is a manifest plugin's sources digest (see Manifest.Sources).
	Sources     string           `json:"sources,omitempty"`
	Description *sdk.Description `json:"description,omitempty"`
	// Failure is the error text of a start that failed (no handshake, an
	// early exit, no health answer): discovery skips the file until it
	// changes or failureRetry has passed since FailedAt (a start that
	// timed out on a busy machine is not skipped for good). Only one of
	// Description and Failure is set.
	Failure  string `json:"failure,omitempty"`
	FailedAt int64  `json:"failed_at,omitempty"` // unix seconds
}

// failureRetry is how long discovery skips a plugin whose start failed.
var failureRetry = 10 * time.Minute

// fileStat identifies a file's content without reading it: a write
// changes the modification and change times, a replacement the inode. The
// change time cannot be set by the file's owner, so a file rewritten with
// its old size and modification time still shows.
type fileStat struct {
	Size     int64  `json:"size"`
	ModNS    int64  `json:"mtime_ns"`
	ChangeNS int64  `json:"ctime_ns"`
	Inode    uint64 `json:"inode"`
	Device   uint64 `json:"device"`
}

// describeCache stores one JSON file per plugin file under dir (mode 0700,
// files 0600, written atomically). A missing, unreadable or corrupt entry
// is a miss, and is rewritten on the next store. A nil cache or one with
// an empty dir stores nothing.
type describeCache struct {
	dir string
}

func (d *describeCache) file(path string) string {
	sum := sha256.Sum256([]byte(path))
	return filepath.Join(d.dir, hex.EncodeToString(sum[:16])+".json")
}

// lookup returns the entry for path when one is stored and st and the
// sources digest still match it.
func (d *describeCache) lookup(path string, st fileStat, sources string) (*cacheEntry, bool) {
	if d == nil || d.dir == "" {
		return nil, false
	}
	data, err := os.ReadFile(d.file(path))
	if err != nil {
		return nil, false
	}
	var e cacheEntry
	if err := json.Unmarshal(data, &e); err != nil || e.Version != cacheVersion || e.Path != path || e.Stat != st || e.Sources != sources {
		return nil, false
	}
	if b, err := hex.DecodeString(e.SHA256); err != nil || len(b) != sha256.Size {
		return nil, false
	}
	return &e, true
}

// store writes e, replacing any older entry for its path.
func (d *describeCache) store(e *cacheEntry) error {
	if d == nil || d.dir == "" {
		return nil
	}
	e.Version = cacheVersion
	data, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.dir, 0o700); err != nil {
		return fmt.Errorf("host: plugin cache: %w (set GOZOO_CACHE to a writable folder)", err)
	}
	tmp, err := os.CreateTemp(d.dir, ".entry-*") // mode 0600
	if err != nil {
		return fmt.Errorf("host: plugin cache: %w", err)
	}
	_, werr := tmp.Write(data)
	cerr := tmp.Close()
	if err := errors.Join(werr, cerr); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("host: plugin cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), d.file(e.Path)); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("host: plugin cache: %w", err)
	}
	if e.Description == nil && e.Failure == "" {
		d.prune() // a new plugin file: forget files that are gone
	}
	return nil
}

// prune removes entries whose plugin file no longer exists (test runs
// and reinstalls leave such), and unreadable ones.
func (d *describeCache) prune() {
	names, _ := filepath.Glob(filepath.Join(d.dir, "*.json"))
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			continue
		}
		var e cacheEntry
		if json.Unmarshal(data, &e) != nil || e.Path == "" {
			os.Remove(n)
			continue
		}
		if _, err := os.Stat(e.Path); errors.Is(err, os.ErrNotExist) {
			os.Remove(n)
		}
	}
}

// identify fills in info.SHA256, from the cache when the file's stat
// still matches its entry, else by hashing the file (and recording the
// new identity). It returns the cached entry when the file is the one it
// describes (its Description or Failure may be set), else nil.
func (c *Client) identify(info *PluginInfo) (*cacheEntry, error) {
	fi, err := os.Stat(info.Path)
	if err != nil {
		return nil, fmt.Errorf("host: plugin %s: %w", info.Path, err)
	}
	st := statOf(fi)
	if info.Manifest {
		info.sources = sourcesKey(info.Path)
	}
	if e, ok := c.cache.lookup(info.Path, st, info.sources); ok {
		info.SHA256 = e.SHA256
		return e, nil
	}
	sum, err := fileSHA256(info.Path)
	if err != nil {
		return nil, fmt.Errorf("host: hash plugin %s: %w", info.Path, err)
	}
	// The file may have changed while it was hashed: record it only when
	// its identity held still.
	if fi2, err := os.Stat(info.Path); err == nil && statOf(fi2) == st {
		if err := c.cache.store(&cacheEntry{Path: info.Path, Stat: st, SHA256: sum, Sources: info.sources}); err != nil {
			c.hlog.Debug("plugin cache not written", "error", err)
		}
	}
	info.SHA256 = sum
	return nil, nil
}

// remember records d as the Describe answer of the plugin file info
// names, or failure as why it did not start, provided the file still has
// the identity and sha256 the process was verified against (and, for a
// manifest, its sources the identity they had when it was found).
func (c *Client) remember(info PluginInfo, d *sdk.Description, failure string) {
	fi, err := os.Stat(info.Path)
	if err != nil {
		return
	}
	st := statOf(fi)
	if info.Manifest && sourcesKey(info.Path) != info.sources {
		return
	}
	e, ok := c.cache.lookup(info.Path, st, info.sources)
	if !ok || e.SHA256 != info.SHA256 {
		return
	}
	e.Description, e.Failure, e.FailedAt = d, failure, 0
	if failure != "" {
		e.FailedAt = time.Now().Unix()
	}
	if err := c.cache.store(e); err != nil {
		c.hlog.Debug("plugin cache not written", "error", err)
	}
}
