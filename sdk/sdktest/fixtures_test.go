package sdktest_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestFixtureSet runs a script that writes two fixtures once and reads
// both, with the script's arguments passed on.
func TestFixtureSet(t *testing.T) {
	s := sdktest.NewFixtureSet("testdata/two_fixtures.py", "--features", "5")
	a := s.Get(t, "a")
	c := s.Get(t, "b/c")
	if filepath.Dir(a.Dir) != filepath.Dir(filepath.Dir(c.Dir)) {
		t.Errorf("fixtures a (%s) and b/c (%s) come from two runs; want one", a.Dir, c.Dir)
	}
	if got := a.Outputs["0"]; len(got) != 2 || got[1] != 5 {
		t.Errorf("a: layer 0 shape %v; want [2 5] (--features 5)", got)
	}
	if got := c.Outputs["1"]; len(got) != 2 || got[1] != 10 {
		t.Errorf("b/c: layer 1 shape %v; want [2 10]", got)
	}
	if again := s.Get(t, "a"); again.Dir != a.Dir {
		t.Errorf("second Get(a) = %s; want the first run's %s", again.Dir, a.Dir)
	}
	if err := s.Remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(a.Dir); !os.IsNotExist(err) {
		t.Errorf("after Remove, %s: %v; want it gone", a.Dir, err)
	}
}
