package sdktest

import (
	"testing"

	"github.com/gozoo/gozoo/sdk/backbone"
)

// NewNet configures arch of a family on the shared runtime with options
// (defaults for the rest), for tests that build its graphs (Layers
// shapes, parameter counts) without loading a model.
func NewNet(t testing.TB, f backbone.Family, arch string, options map[string]string) backbone.Net {
	t.Helper()
	for i := range f.Archs {
		if a := &f.Archs[i]; a.Name == arch {
			o, err := backbone.NewOptions(a, options)
			if err != nil {
				t.Fatal(err)
			}
			n, err := a.New(o)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("family %s has no arch %s", f.Name, arch)
	return nil
}
