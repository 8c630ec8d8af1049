package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/sdk"
)

// axisModel is a model that reports (or, with a nil spec, does not
// describe) its input.
type axisModel struct {
	sdk.Model
	in sdk.InputSpec
}

func (m axisModel) Input() sdk.InputSpec { return m.in }

func TestBatchAxis(t *testing.T) {
	old := &resolved{Plugin: "old", Desc: &sdk.Description{ProtocolMinor: 1}}
	cur := &resolved{Plugin: "cur", Desc: &sdk.Description{ProtocolMinor: 2}}
	seq := sdk.InputSpec{Shape: []int64{-1, -1, 8}, DType: sdk.Float32, BatchAxis: 1}
	for _, tc := range []struct {
		name string
		m    sdk.Model
		r    *resolved
		axis int
		note string
	}{
		{"reported [T, N, F]", axisModel{in: seq}, cur, 1, ""},
		{"reported images", axisModel{in: sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}}, cur, 0, ""},
		{"minor 1", axisModel{}, old, 0, "plugin old speaks protocol minor 1, which does not report a model's batch axis"},
		{"not an InputDescriber, minor 1", struct{ sdk.Model }{}, old, 0, "taking the first dimension of the input as the batch"},
		{"not described, minor 2", struct{ sdk.Model }{}, cur, 0, ""},
	} {
		axis, note := batchAxis(tc.m, tc.r)
		if axis != tc.axis || (tc.note == "") != (note == "") || !strings.Contains(note, tc.note) {
			t.Errorf("%s: batchAxis = %d, %q; want %d and a note containing %q", tc.name, axis, note, tc.axis, tc.note)
		}
	}
}

// TestExtractOldPluginNote runs gozoo extract with the toy plugin as it
// is and as a plugin of protocol minor 1: only the latter prints that it
// takes the first dimension as the batch.
func TestExtractOldPluginNote(t *testing.T) {
	dir := t.TempDir()
	man := fmt.Sprintf(`{"command": [%q], "env": {"TOY_PROTOCOL_MINOR": "1"}}`, toyPlugin(t))
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-old.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := npy.Write(&buf, sdk.Zeros(5, 4)); err != nil {
		t.Fatal(err)
	}
	in := filepath.Join(dir, "x.npy")
	if err := os.WriteFile(in, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		plugin string
		note   bool
	}{{"toy", false}, {"old", true}} {
		_, stderr, err := execute(t, &Factory{}, "--plugin-path", dir+","+filepath.Dir(toyPlugin(t)), "extract", "--arch", "toy", "--plugin", tc.plugin, "--layers", "head",
			"--batch-size", "2", "--out", filepath.Join(dir, tc.plugin+".npz"), in)
		if err != nil {
			t.Fatalf("extract with plugin %s: %v\n%s", tc.plugin, err, stderr)
		}
		if got := strings.Contains(stderr, "note: plugin old speaks protocol minor 1"); got != tc.note || !strings.Contains(stderr, "5 rows") {
			t.Errorf("extract with plugin %s: stderr\n%s\nwant 5 rows, and the minor-1 note: %v", tc.plugin, stderr, tc.note)
		}
	}
}
