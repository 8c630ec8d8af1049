package backbone

import (
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// fixedWidth is tinyFamily's arch with its width fixed, num_classes read
// from the checkpoint.
func fixedWidth(name string, width int64) Arch {
	a := tinyFamily.Archs[0]
	a.Name = name
	a.Infer = func(sd map[string]*sdk.Tensor) (map[string]string, error) {
		out, err := tinyFamily.Archs[0].Infer(sd)
		delete(out, "width")
		return out, err
	}
	a.New = func(o Options) (Net, error) { return &tinyNet{width: width, classes: o.Int("num_classes")}, nil }
	return a
}

// TestFits checks which archs checkpoints fit: by shape, with inferred
// options, and none for a checkpoint with a key too many or too few.
func TestFits(t *testing.T) {
	fam := Family{Name: "tiny", Archs: []Arch{fixedWidth("w4", 4), fixedWidth("w8", 8), tinyFamily.Archs[0]}}
	ckpt := func(width, classes int64) map[string]*sdk.Tensor {
		b := (&tinyNet{width: width, classes: classes}).Build([]int64{-1, 3, 16, 16})
		return nn.RandomWeights(b.Specs(), 1).StateDict()
	}
	w8 := ckpt(8, 5)
	extra := ckpt(4, 3)
	extra["fc.extra"] = sdk.Zeros(1)
	short := ckpt(4, 3)
	delete(short, "fc.bias")
	tests := []struct {
		name string
		sd   map[string]*sdk.Tensor
		want []string
		hint string
	}{
		{"width 8", w8, []string{"w8", "tiny"}, " (the checkpoint fits archs w8, tiny: load it with one of them)"},
		{"width 4", ckpt(4, 2), []string{"w4", "tiny"}, " (the checkpoint fits archs w4, tiny: load it with one of them)"},
		{"width 16", ckpt(16, 2), []string{"tiny"}, " (the checkpoint is tiny's: load it with arch tiny)"},
		{"extra key", extra, nil, " (the checkpoint fits no tiny arch: was it saved from another architecture?)"},
		{"missing key", short, nil, " (the checkpoint fits no tiny arch: was it saved from another architecture?)"},
	}
	for _, tc := range tests {
		if got := Fits(fam, tc.sd); !slices.Equal(got, tc.want) {
			t.Errorf("Fits(%s) = %v; want %v", tc.name, got, tc.want)
		}
		if got := Hint(fam, "w4", tc.sd); got != tc.hint {
			t.Errorf("Hint(w4, %s) = %q; want %q", tc.name, got, tc.hint)
		}
	}
	if got := Hint(fam, "tiny", ckpt(16, 2)); got != "" {
		t.Errorf("Hint(tiny, a tiny checkpoint) = %q; want none", got)
	}
	if !strings.HasPrefix(Hint(fam, "w8", w8), " (") {
		t.Errorf("Hint(w8, width 8) = %q; want the archs it fits", Hint(fam, "w8", w8))
	}
}

func TestNumClasses(t *testing.T) {
	infer := NumClasses("head.1.weight")
	for _, tc := range []struct {
		sd   map[string]*sdk.Tensor
		want string
	}{
		{map[string]*sdk.Tensor{"head.1.weight": sdk.Zeros(7, 3), "head.1.bias": sdk.Zeros(7)}, "7"},
		{map[string]*sdk.Tensor{"head.1.weight": sdk.Zeros(7)}, ""},
		{map[string]*sdk.Tensor{"fc.weight": sdk.Zeros(7, 3)}, ""},
	} {
		got, err := infer(tc.sd)
		if err != nil || got["num_classes"] != tc.want {
			t.Errorf("NumClasses(head.1.weight)(%v) = %v, %v; want num_classes %q", tc.sd, got, err, tc.want)
		}
	}
}
