package regnet

import (
	"flag"
	"fmt"
	"os"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// fixtures holds every fixture of this package's tests, written by one
// run of make_parity.py (TestMain sets it up once flags are parsed, as
// -short picks fewer).
var fixtures *sdktest.FixtureSet

func TestMain(m *testing.M) {
	flag.Parse()
	fixtures = sdktest.NewFixtureSet("testdata/make_parity.py", fixtureSpecs()...)
	code := m.Run()
	if err := fixtures.Remove(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	testenv.Cleanup()
	os.Exit(code)
}

// needORT skips (or fails in CI) when the ONNX Runtime library is absent.
func needORT(t *testing.T) {
	t.Helper()
	if _, err := ort.Version(); err != nil {
		testenv.Missing(t, "ONNX Runtime", err.Error())
	}
}
