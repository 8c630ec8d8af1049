package sdk

import (
	"errors"
	"fmt"
	"testing"
)

func TestShapeErrorMessages(t *testing.T) {
	for _, tc := range []struct {
		err  *ShapeError
		want string
	}{
		{&ShapeError{What: "input", Want: []int64{-1, 3, -1, -1}, Got: []int64{2, 1, 8, 8}},
			"input has shape [2, 1, 8, 8]; want [N, 3, *, *]"},
		{&ShapeError{What: "input", DType: Int64, WantDType: Float32, Want: []int64{-1, 3, -1, -1}, Got: []int64{2, 3, 8, 8}, Hint: "convert the input to float32"},
			"input (int64) has shape [2, 3, 8, 8]; want float32 [N, 3, *, *]: convert the input to float32"},
		{&ShapeError{What: "input (int64)", DType: Int64, Want: []int64{-1, 12}, Got: []int64{3}},
			"input (int64) has shape [3]; want [N, 12]"},
		{&ShapeError{What: "concat", Want: []int64{2, 3}, Got: []int64{2, 4}},
			"concat has shape [2, 4]; want [2, 3]"},
	} {
		if got := tc.err.Error(); got != tc.want {
			t.Errorf("Error() = %q; want %q", got, tc.want)
		}
	}
	err := WithDTypes(&ShapeError{What: "input", Want: []int64{-1, 4}, Got: []int64{2, 5}}, Float32, Int64)
	if want := "input (float32) has shape [2, 5]; want int64 [N, 4]"; err.Error() != want || !errors.Is(err, ErrBadInput) {
		t.Errorf("WithDTypes = %q; want %q", err, want)
	}
	for _, other := range []error{errors.New("other"), fmt.Errorf("x: %w", &ShapeError{What: "input"})} {
		if WithDTypes(other, Float32, Int64) != other {
			t.Errorf("WithDTypes(%v) changed it", other)
		}
	}
}

// TestCodeOrder checks that an error wrapping two sentinels, joined or
// wrapped twice with %w in either order, gets the code of the one that
// comes first in the documented order.
func TestCodeOrder(t *testing.T) {
	for _, tc := range []struct {
		a, b error
		want string
	}{
		{ErrBadInput, ErrNoMatch, "NO_MATCH"},
		{ErrBadOption, ErrUnknownArch, "UNKNOWN_ARCH"},
		{ErrBadInput, ErrClosed, "CLOSED"},
		{ErrWeights, ErrBadOption, "BAD_OPTION"},
		{ErrUnknownLayer, ErrUnsupported, "UNSUPPORTED"},
		{&ShapeError{What: "input"}, &LayerError{Name: "x"}, "UNKNOWN_LAYER"},
		{ErrDeviceUnavailable, ErrPluginCrashed, "PLUGIN_CRASHED"},
	} {
		for _, err := range []error{
			errors.Join(tc.a, tc.b),
			errors.Join(tc.b, tc.a),
			fmt.Errorf("load: %w: %w", tc.a, tc.b),
			fmt.Errorf("load: %w: %w", tc.b, tc.a),
			fmt.Errorf("extract: %w", errors.Join(errors.New("other"), fmt.Errorf("x: %w", tc.b), tc.a)),
		} {
			if got := Code(err); got != tc.want {
				t.Errorf("Code(%v) = %q; want %q", err, got, tc.want)
			}
		}
	}
	if got := Code(errors.Join(errors.New("a"), errors.New("b"))); got != "" {
		t.Errorf("Code(no sentinel) = %q; want \"\"", got)
	}
}

// TestSentinelTable checks the table Code walks: codes are unique, each
// names its own sentinel, and no sentinel comes after one it is a kind
// of, which would make the general code win.
func TestSentinelTable(t *testing.T) {
	seen := map[string]bool{}
	for i, s := range sentinels {
		if seen[s.code] {
			t.Errorf("code %s is listed twice", s.code)
		}
		seen[s.code] = true
		if got := Sentinel(s.code); got != s.err {
			t.Errorf("Sentinel(%q) = %v; want %v", s.code, got, s.err)
		}
		if got := Code(fmt.Errorf("wrapped: %w", s.err)); got != s.code {
			t.Errorf("Code(%v) = %q; want %q", s.err, got, s.code)
		}
		for _, earlier := range sentinels[:i] {
			if errors.Is(s.err, earlier.err) {
				t.Errorf("%s is a kind of %s but comes after it", s.code, earlier.code)
			}
		}
	}
	if Sentinel("FROM_A_NEWER_PLUGIN") != nil {
		t.Errorf("Sentinel(unknown code) = %v; want nil", Sentinel("FROM_A_NEWER_PLUGIN"))
	}
}
