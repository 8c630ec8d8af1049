package sdk

import (
	"errors"
	"fmt"
	"reflect"
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
		if got := Code(tc.err); got != tc.want {
			t.Errorf("Code(%v) = %q; want %q", tc.err, got, tc.want)
		}
	}
}
