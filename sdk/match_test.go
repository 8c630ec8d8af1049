package sdk

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

func TestMatchPattern(t *testing.T) {
	for _, tc := range []struct {
		pattern, name string
		want          bool
	}{
		{"*", "conv1.weight", true},
		{"layer4.*", "layer4.0.conv1.weight", true},
		{"layer4.*", "layer40.weight", false},
		{"fc.*", "fc.bias", true},
		{"fc.*", "fc1.weight", false},
		{"lstm.*_l1*", "lstm.weight_ih_l1_reverse", true},
		{"lstm.*_l1*", "lstm.weight_ih_l0", false},
		{"layer?.0.*", "layer3.0.bn1.bias", true},
	} {
		got, err := MatchPattern(tc.pattern, tc.name)
		if err != nil || got != tc.want {
			t.Errorf("MatchPattern(%q, %q) = %v, %v; want %v", tc.pattern, tc.name, got, err, tc.want)
		}
	}
	if _, err := MatchPattern("[", "x"); !errors.Is(err, ErrBadInput) {
		t.Errorf("MatchPattern(%q) error = %v; want ErrBadInput", "[", err)
	}
}

func TestSuggest(t *testing.T) {
	archs := []string{"resnet18", "resnet34", "resnet50", "resnet101", "resnet152"}
	for _, tc := range []struct {
		name       string
		candidates []string
		want       []string
	}{
		{"resnet05", archs, []string{"resnet50", "resnet18", "resnet34"}},
		{"layer3.1.conv9", []string{"layer3.1.conv1", "layer3.1.conv2", "layer3.1.bn1", "fc"}, []string{"layer3.1.conv1", "layer3.1.conv2", "layer3.1.bn1"}},
		{"zzz", archs, nil},
	} {
		if got := Suggest(tc.name, tc.candidates, 3); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Suggest(%q) = %q; want %q", tc.name, got, tc.want)
		}
	}
}

func TestLayerErrorIs(t *testing.T) {
	err := error(&LayerError{Name: "fc2", Suggestions: []string{"fc"}})
	if !errors.Is(err, ErrUnknownLayer) {
		t.Error("LayerError is not ErrUnknownLayer")
	}
	if got, want := err.Error(), `unknown layer "fc2"; did you mean "fc"? (gozoo layers ARCH lists them all)`; got != want {
		t.Errorf("Error() = %q; want %q", got, want)
	}
	if Code(err) != "UNKNOWN_LAYER" {
		t.Errorf("Code = %q", Code(err))
	}
}

func TestTensorRowsConcat(t *testing.T) {
	x, err := NewTensor([]int64{3, 2}, []float32{1, 2, 3, 4, 5, 6})
	if err != nil {
		t.Fatal(err)
	}
	a, _ := x.Rows(0, 1)
	b, _ := x.Rows(1, 3)
	y, err := Concat([]*Tensor{a, b})
	if err != nil || !reflect.DeepEqual(y, x) {
		t.Errorf("Concat(Rows) = %v, %v; want %v", y, err, x)
	}
	if _, err := x.Rows(2, 4); !errors.Is(err, ErrBadInput) {
		t.Errorf("Rows(2,4) error = %v; want ErrBadInput", err)
	}
	if _, err := NewTensor([]int64{2, 2}, []float32{1}); !errors.Is(err, ErrBadInput) {
		t.Errorf("NewTensor with 1 of 4 elements: error = %v", err)
	}
	for _, tc := range []struct {
		shape []int64
		want  string
	}{
		{[]int64{-1, 3, 224, 224}, "[N, 3, 224, 224]"},
		{[]int64{-1, 3, -1, -1}, "[N, 3, *, *]"}, // free height and width are not batches
		{[]int64{-1, -1, 8}, "[N, *, 8]"},
		{[]int64{}, "[]"},
	} {
		if got := FormatShape(tc.shape); got != tc.want {
			t.Errorf("FormatShape(%v) = %q; want %q", tc.shape, got, tc.want)
		}
	}
}

func TestApplyTrainable(t *testing.T) {
	params := []Param{{Name: "conv1.weight"}, {Name: "layer4.0.conv1.weight"}, {Name: "fc.weight"}, {Name: "fc.bias"}}
	flags := map[string]bool{}
	for _, tc := range []struct {
		patterns  []string
		trainable bool
		matched   []string
	}{
		{[]string{"*"}, false, []string{"conv1.weight", "layer4.0.conv1.weight", "fc.weight", "fc.bias"}},
		{[]string{"layer4.*", "fc.*"}, true, []string{"layer4.0.conv1.weight", "fc.weight", "fc.bias"}},
	} {
		resp, err := ApplyTrainable(params, flags, &SetTrainableRequest{Patterns: tc.patterns, Trainable: tc.trainable})
		if err != nil || !reflect.DeepEqual(resp.Matched, tc.matched) {
			t.Errorf("ApplyTrainable(%q) = %v, %v; want %q", tc.patterns, resp, err, tc.matched)
		}
	}
	want := map[string]bool{"conv1.weight": false, "layer4.0.conv1.weight": true, "fc.weight": true, "fc.bias": true}
	if !reflect.DeepEqual(flags, want) {
		t.Errorf("flags = %v; want %v", flags, want)
	}
	if _, err := ApplyTrainable(params, flags, &SetTrainableRequest{Patterns: []string{"layer9.*"}}); !errors.Is(err, ErrBadInput) {
		t.Errorf("ApplyTrainable(layer9.*) error = %v; want ErrBadInput", err)
	}
	if flags["fc.weight"] != true {
		t.Error("a failed ApplyTrainable changed the flags")
	}
}

func TestReadsWeights(t *testing.T) {
	tests := []struct {
		caps Capabilities
		f    WeightsFormat
		want bool
	}{
		{Capabilities{}, FormatPTH, true},
		{Capabilities{}, FormatONNX, true},
		{Capabilities{WeightsFormats: []WeightsFormat{FormatSafetensors}}, FormatPTH, false},
		{Capabilities{WeightsFormats: []WeightsFormat{FormatSafetensors}}, FormatSafetensors, true},
		{Capabilities{WeightsFormats: []WeightsFormat{FormatSafetensors}}, FormatNone, true},
	}
	for _, tt := range tests {
		if got := tt.caps.ReadsWeights(tt.f); got != tt.want {
			t.Errorf("%+v.ReadsWeights(%q) = %v; want %v", tt.caps, tt.f, got, tt.want)
		}
	}
}

func TestApplyTrainableNoMatch(t *testing.T) {
	params := []Param{{Name: "conv1.weight"}, {Name: "layer1.0.conv1.weight"}, {Name: "layer4.0.conv1.weight"},
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
		_, err := ApplyTrainable(params, flags, &SetTrainableRequest{Patterns: tc.patterns, Trainable: true})
		if !errors.Is(err, ErrNoMatch) || !errors.Is(err, ErrBadInput) || Code(err) != "NO_MATCH" {
			t.Errorf("ApplyTrainable(%q) = %v (code %q); want ErrNoMatch, code NO_MATCH", tc.patterns, err, Code(err))
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
	if _, err := ApplyTrainable(nil, map[string]bool{}, &SetTrainableRequest{Patterns: []string{"x.*"}}); err != nil {
		t.Errorf("ApplyTrainable on no parameters = %v; want nil", err)
	}
}

func TestCodeSpecific(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{fmt.Errorf("x: %w", ErrNoMatch), "NO_MATCH"},
		{fmt.Errorf("x: %w", ErrBadInput), "BAD_INPUT"},
		{&ShapeError{What: "input"}, "BAD_INPUT"},
		{errors.Join(ErrWeights, ErrBadOption), "BAD_OPTION"},
		{errors.New("plain"), ""},
	} {
		for i := 0; i < 20; i++ { // map order varies between calls
			if got := Code(tc.err); got != tc.want {
				t.Fatalf("Code(%v) = %q; want %q", tc.err, got, tc.want)
			}
		}
	}
}
