package bridge

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

func TestLoadStripped(t *testing.T) {
	sd := smallModel()
	want := slices.Clone(sd.Keys)
	for i, k := range sd.Keys {
		sd.Tensors["module."+k] = sd.Tensors[k]
		delete(sd.Tensors, k)
		sd.Keys[i] = "module." + k
	}
	path := filepath.Join(t.TempDir(), "dp.safetensors")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := WriteSafetensors(f, sd); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		prefix string
		keys   []string
		err    string
	}{
		{"", sd.Keys, ""},
		{"module.", want, ""},
		{"model.", nil, `key "module.conv1.weight" does not start with it`},
		{"module.conv1.", nil, `key "module.bn1.weight" does not start with it`},
	} {
		got, err := LoadStripped(path, tc.prefix)
		if tc.err != "" {
			if !errors.Is(err, sdk.ErrWeights) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("LoadStripped(%q) = %v; want ErrWeights containing %q", tc.prefix, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("LoadStripped(%q) = %v", tc.prefix, err)
		}
		// Safetensors stores keys sorted; compare as sets.
		if g, w := slices.Sorted(slices.Values(got.Keys)), slices.Sorted(slices.Values(tc.keys)); !reflect.DeepEqual(g, w) {
			t.Errorf("LoadStripped(%q) keys = %q; want %q", tc.prefix, g, w)
		}
	}
}

func TestTakePrefix(t *testing.T) {
	in := map[string]string{"num_classes": "7", PrefixOption: "module."}
	p, rest := TakePrefix(in)
	if p != "module." || !reflect.DeepEqual(rest, map[string]string{"num_classes": "7"}) || len(in) != 2 {
		t.Errorf("TakePrefix(%v) = %q, %v (input now %v)", in, p, rest, in)
	}
	if p, rest := TakePrefix(map[string]string{"a": "b"}); p != "" || len(rest) != 1 {
		t.Errorf("TakePrefix without the option = %q, %v", p, rest)
	}
}
