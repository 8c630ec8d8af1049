package sdktest

import (
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
)

// FixtureSet is the fixtures one run of a script writes, one per
// subfolder of its OUTDIR, made on first use and shared by every test in
// the process that needs one: a family with many archs starts PyTorch
// once instead of once per fixture. The script is run as MakeFixture runs
// its, `script OUTDIR args...`. A FixtureSet is safe for concurrent use;
// call Remove from TestMain once the tests are done.
//
//	var fixtures = sdktest.NewFixtureSet("testdata/make_parity.py")
//
//	func TestMain(m *testing.M) {
//		code := m.Run()
//		fixtures.Remove()
//		os.Exit(code)
//	}
//
//	func TestParity(t *testing.T) {
//		f := fixtures.Get(t, "mobilenet_v2/224")
//		...
//	}
type FixtureSet struct {
	script string
	args   []string

	mu   sync.Mutex
	done bool
	dir  string
	err  error
}

// NewFixtureSet returns the set script writes when run with args. Nothing
// runs until Get.
func NewFixtureSet(script string, args ...string) *FixtureSet {
	return &FixtureSet{script: script, args: args}
}

// Get returns the fixture in subfolder name (a slash-separated path),
// running the script on the first call; later calls, from any test, reuse
// its output. It skips t (or fails it under GOZOO_REQUIRE_ALL=1) when
// PyTorch is missing, and fails t when the script failed or wrote no such
// fixture.
func (s *FixtureSet) Get(t testing.TB, name string) *Fixture {
	t.Helper()
	py := testenv.Python(t)
	s.mu.Lock()
	if !s.done {
		s.done = true
		s.dir, s.err = os.MkdirTemp("", "gozoo-fixtures-")
		if s.err == nil {
			s.err = runFixtureScript(py, s.script, append([]string{s.dir}, s.args...))
		}
	}
	dir, err := s.dir, s.err
	s.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadFixture(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		t.Fatalf("fixture %s of %s: %v", name, filepath.Base(s.script), err)
	}
	return f
}

// Remove deletes what the script wrote. A later Get runs it again.
func (s *FixtureSet) Remove() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	if s.dir != "" {
		err = os.RemoveAll(s.dir)
	}
	s.done, s.dir, s.err = false, "", nil
	return err
}
