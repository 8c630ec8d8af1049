package bridge

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

// smallModel is a checkpoint of a conv + bn + fc model with 10 classes.
func smallModel() *StateDict {
	sd := &StateDict{Tensors: map[string]*sdk.Tensor{}}
	add := func(name string, t *sdk.Tensor) {
		sd.Keys = append(sd.Keys, name)
		sd.Tensors[name] = t
	}
	add("conv1.weight", sdk.Zeros(8, 3, 3, 3))
	add("bn1.weight", sdk.Zeros(8))
	add("bn1.running_mean", sdk.Zeros(8))
	add("bn1.num_batches_tracked", &sdk.Tensor{Shape: []int64{}, Int64: []int64{0}})
	add("fc.weight", sdk.Zeros(10, 8))
	add("fc.bias", sdk.Zeros(10))
	return sd
}

func specsOf(sd *StateDict) []Spec {
	var s []Spec
	for _, k := range sd.Keys {
		s = append(s, Spec{Name: k, Shape: sd.Tensors[k].Shape})
	}
	return s
}

func TestMatch(t *testing.T) {
	model := specsOf(smallModel())
	with := func(f func([]Spec) []Spec) []Spec { return f(append([]Spec(nil), model...)) }
	tests := []struct {
		name       string
		sd         func() *StateDict
		expected   []Spec
		opts       []MatchOption
		missing    []string
		unexpected []string
		shapes     []ShapeMismatch
		hint       string
	}{
		{name: "exact", sd: smallModel, expected: model},
		{
			name: "missing", sd: smallModel,
			expected: with(func(s []Spec) []Spec { return append(s, Spec{"bn1.running_var", []int64{8}}) }),
			missing:  []string{"bn1.running_var"}, hint: "another architecture",
		},
		{
			name: "unexpected", sd: smallModel, expected: model[1:],
			unexpected: []string{"conv1.weight"}, hint: "IgnoreKeys",
		},
		{
			name: "num_classes", sd: smallModel,
			expected: with(func(s []Spec) []Spec {
				s[4], s[5] = Spec{"fc.weight", []int64{1000, 8}}, Spec{"fc.bias", []int64{1000}}
				return s
			}),
			shapes: []ShapeMismatch{{"fc.weight", []int64{10, 8}, []int64{1000, 8}}, {"fc.bias", []int64{10}, []int64{1000}}},
			hint:   "num_classes",
		},
		{
			name: "all at once", sd: smallModel,
			expected: with(func(s []Spec) []Spec {
				s[0] = Spec{"conv1.weight", []int64{8, 1, 3, 3}}
				return append(s[:5], Spec{"head.weight", []int64{2}})
			}),
			missing: []string{"head.weight"}, unexpected: []string{"fc.bias"},
			shapes: []ShapeMismatch{{"conv1.weight", []int64{8, 3, 3, 3}, []int64{8, 1, 3, 3}}},
			hint:   "another architecture",
		},
		{
			name: "ignored aux keys",
			sd: func() *StateDict {
				sd := smallModel()
				sd.Keys = append(sd.Keys, "aux.fc.weight")
				sd.Tensors["aux.fc.weight"] = sdk.Zeros(3)
				return sd
			},
			expected: model, opts: []MatchOption{IgnoreKeys("aux.*", "*.num_batches_tracked")},
		},
		{
			name: "DataParallel without StripPrefix",
			sd: func() *StateDict {
				sd := smallModel()
				for i, k := range sd.Keys {
					sd.Tensors["module."+k] = sd.Tensors[k]
					delete(sd.Tensors, k)
					sd.Keys[i] = "module." + k
				}
				return sd
			},
			expected: model,
			missing:  []string{"conv1.weight", "bn1.weight", "bn1.running_mean", "bn1.num_batches_tracked", "fc.weight", "fc.bias"},
			unexpected: []string{"module.conv1.weight", "module.bn1.weight", "module.bn1.running_mean",
				"module.bn1.num_batches_tracked", "module.fc.weight", "module.fc.bias"},
			hint: "--opt strip_prefix=module.",
		},
		{
			name: "DataParallel with StripPrefix",
			sd: func() *StateDict {
				sd := smallModel()
				sd.TrimPrefix("x") // no key starts with x: a no-op
				for i, k := range sd.Keys {
					sd.Tensors["module."+k] = sd.Tensors[k]
					delete(sd.Tensors, k)
					sd.Keys[i] = "module." + k
				}
				return sd
			},
			expected: model, opts: []MatchOption{StripPrefix("module.")},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.sd().Match(tc.expected, tc.opts...)
			if tc.missing == nil && tc.unexpected == nil && tc.shapes == nil {
				if err != nil {
					t.Fatalf("Match = %v; want nil", err)
				}
				return
			}
			var me *MismatchError
			if !errors.As(err, &me) || !errors.Is(err, sdk.ErrWeights) {
				t.Fatalf("Match = %v; want *MismatchError matching sdk.ErrWeights", err)
			}
			if !reflect.DeepEqual(me.Missing, tc.missing) || !reflect.DeepEqual(me.Unexpected, tc.unexpected) ||
				!reflect.DeepEqual(me.Shapes, tc.shapes) {
				t.Errorf("Match = missing %v, unexpected %v, shapes %v; want %v, %v, %v",
					me.Missing, me.Unexpected, me.Shapes, tc.missing, tc.unexpected, tc.shapes)
			}
			msg := err.Error()
			for _, k := range append(append([]string{}, tc.missing...), tc.unexpected...) {
				if !strings.Contains(msg, fmt.Sprintf("%q", k)) {
					t.Errorf("message %q does not name %q", msg, k)
				}
			}
			for _, s := range tc.shapes {
				want := fmt.Sprintf("size mismatch for %s: checkpoint has %s, model has %s", s.Name, sdk.FormatShape(s.Checkpoint), sdk.FormatShape(s.Model))
				if !strings.Contains(msg, want) {
					t.Errorf("message %q lacks %q", msg, want)
				}
			}
			if !strings.Contains(msg, tc.hint) {
				t.Errorf("message %q lacks the hint %q", msg, tc.hint)
			}
		})
	}
}

func TestMatchOptionsRejected(t *testing.T) {
	for _, opts := range [][]MatchOption{
		{IgnoreKeys("[")},
		{StripPrefix("")},
		{StripPrefix("a."), StripPrefix("b.")},
	} {
		if err := smallModel().Match(nil, opts...); !errors.Is(err, sdk.ErrBadInput) && !errors.Is(err, sdk.ErrBadOption) {
			t.Errorf("Match with bad options = %v; want ErrBadInput or ErrBadOption", err)
		}
	}
}

func TestMismatchMessageAbbreviates(t *testing.T) {
	e := &MismatchError{Source: "x.pth"}
	for i := range 50 {
		e.Missing = append(e.Missing, fmt.Sprintf("layer%d.weight", i))
	}
	msg := e.Error()
	if !strings.Contains(msg, "missing keys (50)") || !strings.Contains(msg, "and 42 more") || strings.Contains(msg, "layer49") {
		t.Errorf("Error() = %q; want 8 names and a count of the rest", msg)
	}
}

// TestMatchResnet18AgainstResnet50 checks the message a user sees when the
// checkpoint is of another architecture.
func TestMatchResnet18AgainstResnet50(t *testing.T) {
	dir := checkpoints(t)
	sd, err := Load(filepath.Join(dir, "resnet18.pth"))
	if err != nil {
		t.Fatal(err)
	}
	var r18, r50 []Spec
	for name, dst := range map[string]*[]Spec{"resnet18": &r18, "resnet50": &r50} {
		js, err := os.ReadFile(filepath.Join(dir, name+".spec.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(js, dst); err != nil {
			t.Fatal(err)
		}
	}
	if err := sd.Match(r18); err != nil {
		t.Fatalf("resnet18 checkpoint against resnet18 = %v; want nil", err)
	}
	err = sd.Match(r50)
	var me *MismatchError
	if !errors.As(err, &me) || !errors.Is(err, sdk.ErrWeights) {
		t.Fatalf("resnet18 checkpoint against resnet50 = %v; want *MismatchError", err)
	}
	// resnet50 has bottleneck conv3/bn3 and downsample in every layer's first block.
	if len(me.Missing) == 0 || len(me.Shapes) == 0 || !strings.Contains(err.Error(), "another architecture") ||
		!strings.Contains(err.Error(), "resnet18.pth") || !strings.Contains(err.Error(), "size mismatch for layer1.0.conv1.weight: checkpoint has [64, 64, 3, 3], model has [64, 64, 1, 1]") {
		t.Errorf("message %q should list missing keys, size mismatches, the file and a hint", err)
	}
	fc := ShapeMismatch{"fc.weight", []int64{1000, 512}, []int64{1000, 2048}}
	if !slices.ContainsFunc(me.Shapes, func(s ShapeMismatch) bool { return reflect.DeepEqual(s, fc) }) {
		t.Errorf("Shapes = %v; want it to hold %v", me.Shapes, fc)
	}
	if n := len(me.Missing) + len(me.Unexpected) + len(me.Shapes); n < 100 {
		t.Errorf("%d problems listed; resnet18 vs resnet50 has well over 100", n)
	}
	t.Logf("resnet18 vs resnet50: %d missing, %d unexpected, %d size mismatches; %s",
		len(me.Missing), len(me.Unexpected), len(me.Shapes), err)
}
