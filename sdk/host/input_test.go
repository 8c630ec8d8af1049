package host_test

import (
	"reflect"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

// TestModelInput checks that a model's input crosses from the plugin with
// Load (its options change it: dim=6 gives [N, 6], not the arch's [N, 4])
// and that a plugin of protocol minor 1, which does not report it, gives
// the zero InputSpec.
func TestModelInput(t *testing.T) {
	m := load(t, toy(t, newClient(t)), map[string]string{"dim": "6"})
	d, ok := m.(sdk.InputDescriber)
	if !ok {
		t.Fatalf("host model %T does not implement sdk.InputDescriber", m)
	}
	want := sdk.InputSpec{Shape: []int64{-1, 6}, DType: sdk.Float32}
	if got := d.Input(); !reflect.DeepEqual(got, want) {
		t.Errorf("Input() = %+v; want %+v", got, want)
	}

	old := load(t, oldToy(t, 1), map[string]string{"dim": "6"})
	if got := old.(sdk.InputDescriber).Input(); !reflect.DeepEqual(got, sdk.InputSpec{}) {
		t.Errorf("Input() of a minor-1 plugin's model = %+v; want the zero InputSpec (unknown)", got)
	}
}
