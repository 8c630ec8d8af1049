package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
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

	dir := t.TempDir()
	man := fmt.Sprintf(`{"command": [%q], "env": {"TOY_PROTOCOL_MINOR": "1"}}`, toyBin)
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-old.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := host.New(host.WithPluginPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bb, err := c.Backbone(context.Background(), "old")
	if err != nil {
		t.Fatal(err)
	}
	old := load(t, bb, map[string]string{"dim": "6"})
	if got := old.(sdk.InputDescriber).Input(); !reflect.DeepEqual(got, sdk.InputSpec{}) {
		t.Errorf("Input() of a minor-1 plugin's model = %+v; want the zero InputSpec (unknown)", got)
	}
}
