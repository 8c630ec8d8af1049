package nn

import (
	"errors"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

// TestRNNSpecs checks the state_dict entries LSTM and GRU declare against
// torch's named_parameters for the same settings, and their output
// shapes.
func TestRNNSpecs(t *testing.T) {
	tests := []struct {
		c     RNN
		names string
		out   []int64
		hn    []int64
	}{
		{RNN{Mode: "LSTM", InputSize: 3, HiddenSize: 5, NumLayers: 1, Bias: true},
			"lstm.weight_ih_l0[20 3] lstm.weight_hh_l0[20 5] lstm.bias_ih_l0[20] lstm.bias_hh_l0[20]", []int64{7, -1, 5}, []int64{1, -1, 5}},
		{RNN{Mode: "LSTM", InputSize: 3, HiddenSize: 5, NumLayers: 2, Bidirectional: true, ProjSize: 2, BatchFirst: true},
			"lstm.weight_ih_l0[20 3] lstm.weight_hh_l0[20 2] lstm.weight_hr_l0[2 5] lstm.weight_ih_l0_reverse[20 3] lstm.weight_hh_l0_reverse[20 2] lstm.weight_hr_l0_reverse[2 5] " +
				"lstm.weight_ih_l1[20 4] lstm.weight_hh_l1[20 2] lstm.weight_hr_l1[2 5] lstm.weight_ih_l1_reverse[20 4] lstm.weight_hh_l1_reverse[20 2] lstm.weight_hr_l1_reverse[2 5]",
			[]int64{-1, 7, 4}, []int64{4, -1, 2}},
		{RNN{Mode: "GRU", InputSize: 3, HiddenSize: 5, NumLayers: 1, Bias: true},
			"lstm.weight_ih_l0[15 3] lstm.weight_hh_l0[15 5] lstm.bias_ih_l0[15] lstm.bias_hh_l0[15]", []int64{7, -1, 5}, []int64{1, -1, 5}},
	}
	for _, tc := range tests {
		b := NewBuilder("Module")
		x := b.Input("input", []int64{7, -1, 3})
		m := b.SeqMask(b.InputInt64("lengths", []int64{-1}), 7)
		var out RNNOutput
		if tc.c.Mode == "GRU" {
			out = b.GRU("lstm", x, tc.c, m)
		} else {
			out = b.LSTM("lstm", x, tc.c, m)
		}
		if err := b.Err(); err != nil {
			t.Fatalf("%+v: %v", tc.c, err)
		}
		var names []string
		for _, s := range b.Specs() {
			names = append(names, s.Name+strings.ReplaceAll(sdk.FormatShape(s.Shape), ",", ""))
		}
		if got := strings.Join(names, " "); got != tc.names {
			t.Errorf("%+v specs:\n got %s\nwant %s", tc.c, got, tc.names)
		}
		if !sdk.EqualShape(out.Output.Shape(), tc.out) || !sdk.EqualShape(out.HN.Shape(), tc.hn) {
			t.Errorf("%+v: output %v, h_n %v; want %v, %v", tc.c, out.Output.Shape(), out.HN.Shape(), tc.out, tc.hn)
		}
	}
}

// TestRNNBuildErrors checks that sizes that cannot work fail the build.
func TestRNNBuildErrors(t *testing.T) {
	for _, c := range []RNN{
		{InputSize: 3, HiddenSize: 5, NumLayers: 0},
		{InputSize: 3, HiddenSize: 5, NumLayers: 1, ProjSize: 5},
		{InputSize: 4, HiddenSize: 5, NumLayers: 1},
	} {
		b := NewBuilder("Module")
		x := b.Input("input", []int64{7, -1, 3})
		b.LSTM("lstm", x, c, b.SeqMask(b.InputInt64("lengths", []int64{-1}), 7))
		if err := b.Err(); !errors.Is(err, sdk.ErrBadInput) {
			t.Errorf("LSTM(%+v) build error = %v; want ErrBuild", c, err)
		}
	}
}
