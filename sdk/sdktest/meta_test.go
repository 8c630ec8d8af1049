package sdktest_test

import (
	"slices"
	"testing"

	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestMetaFixture reads a shapes-only fixture of a model with 4 Gi
// weights, built on the meta device: every called module's shape, the
// uncalled module, and the parameters.
func TestMetaFixture(t *testing.T) {
	f := sdktest.MakeFixture(t, "testdata/meta_fixture.py")
	want := map[string][]int64{"conv": {1, 4, 5, 4}, "bn": {1, 4, 5, 4}, "pool": {1, 4, 1, 1}, "fc": {1, 1 << 30}}
	if len(f.Outputs) != len(want) {
		t.Errorf("Outputs = %v; want %v", f.Outputs, want)
	}
	for name, shape := range want {
		if !slices.Equal(f.Outputs[name], shape) {
			t.Errorf("Outputs[%s] = %v; want %v", name, f.Outputs[name], shape)
		}
	}
	if !slices.Equal(f.Uncalled, []string{"spare"}) {
		t.Errorf("Uncalled = %v; want [spare]", f.Uncalled)
	}
	if len(f.Modules) != 5 || f.Modules[2] != [2]string{"spare", "ReLU"} {
		t.Errorf("Modules = %v; want conv, bn, spare (ReLU), pool, fc", f.Modules)
	}
	if len(f.Params) != 6 || f.Params[4].Name != "fc.weight" || !slices.Equal(f.Params[4].Shape, []int64{1 << 30, 4}) {
		t.Errorf("Params = %v; want fc.weight [1073741824, 4] fifth of six", f.Params)
	}
	if !slices.Equal(f.Input, []int64{1, 3, 9, 7}) {
		t.Errorf("Input = %v; want [1 3 9 7]", f.Input)
	}
}
