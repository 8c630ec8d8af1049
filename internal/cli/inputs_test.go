package cli

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

func TestParseInputSpecs(t *testing.T) {
	for _, tc := range []struct {
		flags []string
		want  []inputSpec
		err   string
	}{
		{[]string{"tokens:int64:2,12"}, []inputSpec{{"tokens", sdk.Int64, []int64{2, 12}}}, ""},
		{[]string{"tokens:int64:2x12", "feats:float32:2,4"}, []inputSpec{{"tokens", sdk.Int64, []int64{2, 12}}, {"feats", sdk.Float32, []int64{2, 4}}}, ""},
		{[]string{"tokens:int32:2,12"}, nil, `dtype "int32": use float32 or int64`},
		{[]string{"tokens:int64"}, nil, "want NAME:DTYPE:SHAPE"},
		{[]string{"tokens:int64:2,0"}, nil, "positive integers"},
		{[]string{"a:int64:2", "a:float32:2"}, nil, "given twice"},
		{[]string{"a:int64:2,12", "b:float32:3,4"}, nil, "batch 3 differs from a's 2"},
		{[]string{"a;b:int64:2"}, nil, "a name without"},
	} {
		got, err := parseInputSpecs(tc.flags)
		if tc.err != "" {
			if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseInputSpecs(%q) = %v; want a usage error containing %q", tc.flags, err, tc.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseInputSpecs(%q) = %v, %v; want %v", tc.flags, got, err, tc.want)
		}
	}
	if s := (inputSpec{"tokens", sdk.Int64, []int64{2, 12}}).String(); s != "tokens:int64:2x12" {
		t.Errorf("String() = %q; want tokens:int64:2x12 (the torch plugin's inputs option)", s)
	}
	x, more := randomInputs([]inputSpec{{"t", sdk.Int64, []int64{4, 5}}, {"f", sdk.Float32, []int64{4, 2}}}, 1, 7)
	if x.DType() != sdk.Int64 || len(more) != 1 || more["f"].DType() != sdk.Float32 {
		t.Fatalf("randomInputs = %v, %v", x, more)
	}
	for _, v := range x.Int64 {
		if v < 0 || v >= 7 {
			t.Errorf("randomInputs int64 value %d outside [0, 7)", v)
		}
	}
}

func TestBridgeExportInputUsage(t *testing.T) {
	for _, tc := range []struct {
		o    BridgeExportOptions
		want string
	}{
		{BridgeExportOptions{InputShape: []int{2, 12}, Inputs: []string{"a:int64:2,12"}}, "not both"},
		{BridgeExportOptions{}, "--input-shape is required"},
		{BridgeExportOptions{InputShape: []int{2, 12}, InputDType: "int8"}, "--input-dtype"},
	} {
		if _, err := tc.o.inputSpecs(); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("inputSpecs(%+v) = %v; want a usage error containing %q", tc.o, err, tc.want)
		}
	}
	o := BridgeExportOptions{InputShape: []int{2, 12}, InputDType: "int64"}
	specs, err := o.inputSpecs()
	if err != nil || len(specs) != 1 || specs[0].Name != "input" || specs[0].DType != sdk.Int64 {
		t.Errorf("inputSpecs(--input-shape 2,12 --input-dtype int64) = %v, %v", specs, err)
	}
}
