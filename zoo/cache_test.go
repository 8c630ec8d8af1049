package zoo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// weightsServer serves payload at /w.pth with Range support. dropFirst
// makes the first response stop halfway and close the connection.
type weightsServer struct {
	payload   []byte
	dropFirst bool
	wrong     bool // serve different bytes of the same length
	requests  atomic.Int32
	ranges    []string
	mu        sync.Mutex
}

func (s *weightsServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := s.requests.Add(1)
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	s.mu.Unlock()
	body := s.payload
	if s.wrong {
		body = bytes.Repeat([]byte{0x5a}, len(s.payload))
	}
	start := 0
	if rg := r.Header.Get("Range"); rg != "" {
		v, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(rg, "bytes="), "-"))
		if err != nil || v > len(body) {
			http.Error(w, "bad range", http.StatusRequestedRangeNotSatisfiable)
			return
		}
		start = v
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(body)-1, len(body)))
		w.Header().Set("Content-Length", strconv.Itoa(len(body)-start))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusOK)
	}
	rest := body[start:]
	if s.dropFirst && n == 1 {
		w.Write(rest[:len(rest)/2])
		w.(http.Flusher).Flush()
		conn, _, err := w.(http.Hijacker).Hijack()
		if err == nil {
			conn.Close()
		}
		return
	}
	w.Write(rest)
}

func payload(n int) ([]byte, string) {
	b := make([]byte, n)
	rand.New(rand.NewSource(int64(n))).Read(b)
	sum := sha256.Sum256(b)
	return b, hex.EncodeToString(sum[:])
}

func entryFor(url, sum string) *Entry {
	return &Entry{Name: "test.model", Plugin: "resnet", Arch: "resnet18",
		Weights: Weights{URL: url + "/w.pth", SHA256: sum}, Preprocess: ImageNetPreprocess()}
}

func TestFetchResumesInterruptedDownload(t *testing.T) {
	data, sum := payload(3<<20 + 17)
	for _, tc := range []struct {
		name    string
		retries int
		calls   int // Fetch calls until success
	}{
		{"resume within one fetch", 3, 1},
		{"resume on the next fetch", 0, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := &weightsServer{payload: data, dropFirst: true}
			hs := httptest.NewServer(srv)
			defer hs.Close()
			c, err := OpenCache(t.TempDir(), WithRetries(tc.retries))
			if err != nil {
				t.Fatal(err)
			}
			e := entryFor(hs.URL, sum)
			var path string
			for i := 1; i <= tc.calls; i++ {
				path, err = c.Fetch(context.Background(), e)
				if i < tc.calls {
					if err == nil {
						t.Fatalf("Fetch #%d succeeded; want the dropped connection to fail it", i)
					}
					if _, serr := os.Stat(c.Path(e) + ".part"); serr != nil {
						t.Fatalf("no partial file after a dropped download: %v", serr)
					}
				}
			}
			if err != nil {
				t.Fatalf("Fetch = %v; want success after resuming", err)
			}
			got, _ := os.ReadFile(path)
			if !bytes.Equal(got, data) {
				t.Fatalf("cached file differs from the payload")
			}
			if len(srv.ranges) != 2 || srv.ranges[0] != "" || srv.ranges[1] != fmt.Sprintf("bytes=%d-", len(data)/2) {
				t.Fatalf("requests' Range headers = %q; want a first full request and a resume from byte %d", srv.ranges, len(data)/2)
			}
		})
	}
}

func TestFetchWrongBytesNeverReachCache(t *testing.T) {
	data, sum := payload(1 << 20)
	for _, tc := range []struct {
		name  string
		entry func(url string) *Entry
	}{
		{"sha256", func(u string) *Entry { return entryFor(u, sum) }},
		{"hash prefix", func(u string) *Entry {
			e := entryFor(u, "")
			e.Weights.HashPrefix = sum[:8]
			return e
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs := httptest.NewServer(&weightsServer{payload: data, wrong: true})
			defer hs.Close()
			c, _ := OpenCache(t.TempDir())
			e := tc.entry(hs.URL)
			_, err := c.Fetch(context.Background(), e)
			if !errors.Is(err, ErrChecksum) {
				t.Fatalf("Fetch = %v; want ErrChecksum", err)
			}
			left, _ := filepath.Glob(filepath.Join(c.Dir(), "w.pth*"))
			for _, f := range left {
				t.Errorf("%s is left in the cache after a checksum failure", f)
			}
		})
	}
}

func TestConcurrentPullsGiveOneGoodFile(t *testing.T) {
	data, sum := payload(2 << 20)
	srv := &weightsServer{payload: data}
	hs := httptest.NewServer(srv)
	defer hs.Close()
	dir := t.TempDir()
	const n = 4
	paths := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			c, _ := OpenCache(dir) // separate caches: as separate processes
			paths[i], errs[i] = c.Fetch(context.Background(), entryFor(hs.URL, sum))
		}(i)
	}
	wg.Wait()
	for i := 0; i < n; i++ {
		if errs[i] != nil {
			t.Fatalf("pull %d: %v", i, errs[i])
		}
		if paths[i] != paths[0] {
			t.Fatalf("pulls returned %q and %q", paths[0], paths[i])
		}
	}
	got, _ := os.ReadFile(paths[0])
	if !bytes.Equal(got, data) {
		t.Fatal("cached file differs from the payload")
	}
	if r := srv.requests.Load(); r != 1 {
		t.Errorf("server saw %d downloads; want 1 (the lock makes the others wait and reuse it)", r)
	}
	entries, _ := os.ReadDir(filepath.Dir(paths[0]))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".part") {
			t.Errorf("partial file %s left behind", e.Name())
		}
	}
}

func TestOfflineMode(t *testing.T) {
	data, sum := payload(1000)
	hs := httptest.NewServer(&weightsServer{payload: data})
	defer hs.Close()
	dir := t.TempDir()
	off, _ := OpenCache(dir, WithOffline(true))
	e := entryFor(hs.URL, sum)
	if _, err := off.Fetch(context.Background(), e); !errors.Is(err, ErrOffline) || !strings.Contains(err.Error(), "gozoo zoo pull test.model") {
		t.Fatalf("offline Fetch of an uncached model = %v; want ErrOffline naming the pull command", err)
	}
	on, _ := OpenCache(dir)
	if _, err := on.Fetch(context.Background(), e); err != nil {
		t.Fatal(err)
	}
	if _, err := off.Fetch(context.Background(), e); err != nil {
		t.Fatalf("offline Fetch of a cached model = %v", err)
	}
	// A corrupted cached file is refused, never used.
	os.WriteFile(off.Path(e), []byte("garbage"), 0o644)
	if _, err := off.Fetch(context.Background(), e); !errors.Is(err, ErrChecksum) {
		t.Fatalf("offline Fetch of a corrupt cached file = %v; want ErrChecksum", err)
	}
}

// leftovers lists the .part and .lock files in dir.
func leftovers(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	for _, pat := range []string{"*.part", "*.lock"} {
		m, _ := filepath.Glob(filepath.Join(dir, pat))
		out = append(out, m...)
	}
	return out
}

// TestFailedPullLeavesNothing fails pulls in every way before any byte
// arrives (offline, refused connection, HTTP errors) and pulls embedded
// weights offline: no empty .part and no lock file stays in the cache. A
// download cut halfway keeps its .part, which the next pull resumes.
func TestFailedPullLeavesNothing(t *testing.T) {
	data, sum := payload(1 << 20)
	status := func(code int) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "no", code) })
	}
	closed := httptest.NewServer(status(200))
	closed.Close()
	for _, tc := range []struct {
		name     string
		handler  http.Handler // nil: the closed server's URL
		offline  bool
		embedded bool
		keepPart bool
	}{
		{name: "offline", handler: status(200), offline: true},
		{name: "connection refused"},
		{name: "404", handler: status(http.StatusNotFound)},
		{name: "503 after retries", handler: status(http.StatusServiceUnavailable)},
		{name: "cut halfway", handler: &weightsServer{payload: data, dropFirst: true}, keepPart: true},
		{name: "embedded offline", offline: true, embedded: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			url := closed.URL
			if tc.handler != nil {
				hs := httptest.NewServer(tc.handler)
				defer hs.Close()
				url = hs.URL
			}
			c, err := OpenCache(t.TempDir(), WithOffline(tc.offline), WithRetries(0))
			if err != nil {
				t.Fatal(err)
			}
			e := entryFor(url, sum)
			if tc.embedded {
				cat, _ := Default()
				e, _ = cat.Lookup(DefaultModel)
			}
			_, err = c.Fetch(context.Background(), e)
			if tc.embedded != (err == nil) {
				t.Fatalf("Fetch = %v; want success only for embedded weights", err)
			}
			left := leftovers(t, c.Dir())
			if tc.keepPart {
				if len(left) != 1 || !strings.HasSuffix(left[0], ".part") {
					t.Fatalf("after a cut download the cache holds %v; want only the .part to resume", left)
				}
				if st, _ := os.Stat(left[0]); st.Size() == 0 {
					t.Fatalf("%s is empty", left[0])
				}
				if !strings.Contains(err.Error(), "the next pull resumes it") {
					t.Errorf("error %q does not say the partial download stays", err)
				}
				return
			}
			if len(left) > 0 {
				t.Errorf("the cache holds %v after the pull; want no .part or .lock", left)
			}
			if err != nil && strings.Contains(err.Error(), ".part") {
				t.Errorf("error %q mentions a partial download that was removed", err)
			}
		})
	}
}

// TestLockExcludesDespiteRemoval takes and releases the cache lock from
// many goroutines (each with its own file descriptor, as processes have):
// the lock file is removed at every release, yet no two holders overlap.
func TestLockExcludesDespiteRemoval(t *testing.T) {
	path := filepath.Join(t.TempDir(), "w.pth.lock")
	var holders, overlaps atomic.Int32
	var wg sync.WaitGroup
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 5; i++ {
				unlock, err := lockFile(context.Background(), path)
				if err != nil {
					t.Error(err)
					return
				}
				if holders.Add(1) != 1 {
					overlaps.Add(1)
				}
				time.Sleep(20 * time.Millisecond) // longer than a waiter's poll
				holders.Add(-1)
				unlock()
			}
		}()
	}
	wg.Wait()
	if n := overlaps.Load(); n > 0 {
		t.Errorf("%d times two goroutines held the lock at once", n)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("lock file left after the last release (stat: %v)", err)
	}
}
