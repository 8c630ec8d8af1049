package backbone

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

func TestApplyTrainable(t *testing.T) {
	params := []sdk.Param{{Name: "conv1.weight"}, {Name: "layer4.0.conv1.weight"}, {Name: "fc.weight"}, {Name: "fc.bias"}}
	flags := map[string]bool{}
	for _, tc := range []struct {
		patterns  []string
		trainable bool
		matched   []string
	}{
		{[]string{"*"}, false, []string{"conv1.weight", "layer4.0.conv1.weight", "fc.weight", "fc.bias"}},
		{[]string{"layer4.*", "fc.*"}, true, []string{"layer4.0.conv1.weight", "fc.weight", "fc.bias"}},
	} {
		resp, err := ApplyTrainable(params, flags, &sdk.SetTrainableRequest{Patterns: tc.patterns, Trainable: tc.trainable})
		if err != nil || !reflect.DeepEqual(resp.Matched, tc.matched) {
			t.Errorf("ApplyTrainable(%q) = %v, %v; want %q", tc.patterns, resp, err, tc.matched)
		}
	}
	want := map[string]bool{"conv1.weight": false, "layer4.0.conv1.weight": true, "fc.weight": true, "fc.bias": true}
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("flags = %v; want %v", flags, want)
	}
	if _, err := ApplyTrainable(params, flags, &sdk.SetTrainableRequest{Patterns: []string{"layer9.*"}}); !errors.Is(err, sdk.ErrBadInput) {
		t.Errorf("ApplyTrainable(layer9.*) error = %v; want sdk.ErrBadInput", err)
	}
	if flags["fc.weight"] != true {
		t.Error("a failed ApplyTrainable changed the flags")
	}
}

func TestApplyTrainableNoMatch(t *testing.T) {
	params := []sdk.Param{{Name: "conv1.weight"}, {Name: "layer1.0.conv1.weight"}, {Name: "layer4.0.conv1.weight"},
		{Name: "layer4.0.bn1.bias"}, {Name: "fc.weight"}, {Name: "fc.bias"}}
	for _, tc := range []struct {
		patterns []string
		want     []string // in the message
	}{
		{[]string{"layer9.*"}, []string{`"layer9.*"; did you mean "layer1.*", "layer4.*"`}},
		// One pattern of two matches nothing: still an error, naming it.
		{[]string{"layer4.*", "fcc.*"}, []string{`"fcc.*"; did you mean "fc.*"`}},
		{[]string{"fc"}, []string{`"fc"; did you mean "fc.*", "fc.weight", "fc.bias"`}},
		{[]string{"*.bais"}, []string{`"*.bais"; did you mean "*.bias"`}},
		{[]string{"layer4.0.conv9.weight"}, []string{`did you mean "layer4.0.conv1.weight"`}},
		{[]string{"zzzzzzzzzz.*", "qqq"}, []string{`"zzzzzzzzzz.*"; names look like "conv1.weight"`, `"qqq"`}},
	} {
		flags := map[string]bool{}
		_, err := ApplyTrainable(params, flags, &sdk.SetTrainableRequest{Patterns: tc.patterns, Trainable: true})
		if !errors.Is(err, sdk.ErrNoMatch) || !errors.Is(err, sdk.ErrBadInput) || sdk.Code(err) != "NO_MATCH" {
			t.Errorf("ApplyTrainable(%q) = %v (code %q); want sdk.ErrNoMatch, code NO_MATCH", tc.patterns, err, sdk.Code(err))
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("ApplyTrainable(%q) = %q; want it to contain %q", tc.patterns, err, w)
			}
		}
		if len(flags) != 0 {
			t.Errorf("ApplyTrainable(%q) failed but set flags %v", tc.patterns, flags)
		}
	}
	// No parameters: nothing to match, no error.
	if _, err := ApplyTrainable(nil, map[string]bool{}, &sdk.SetTrainableRequest{Patterns: []string{"x.*"}}); err != nil {
		t.Errorf("ApplyTrainable on no parameters = %v; want nil", err)
	}
}
