package host

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
)

// TestWeightsPrepare converts a .pth for a plugin that reads only
// safetensors: the file lands in a private folder under the user's file
// name, holds the same tensors, and goes with release; a plugin that reads
// the format gets the request unchanged; formats that cannot be converted,
// and checkpoints the bridge refuses, are errors.
func TestWeightsPrepare(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	src, err := filepath.Abs("../../bridge/testdata/tiny.pth")
	if err != nil {
		t.Fatal(err)
	}
	want, err := bridge.Load(src)
	if err != nil {
		t.Fatal(err)
	}
	stOnly := sdk.Capabilities{WeightsFormats: []sdk.WeightsFormat{sdk.FormatSafetensors}}
	var w weightsDir
	defer w.remove()

	req := &sdk.LoadRequest{Arch: "a", WeightsPath: src}
	same, release, err := w.prepare(req, "p", sdk.Capabilities{})
	if err != nil || same != req || release() != nil {
		t.Fatalf("prepare for a plugin reading every format = %v, %v; want the request unchanged", same, err)
	}

	got, release, err := w.prepare(req, "p", stOnly)
	if err != nil {
		t.Fatal(err)
	}
	if got.WeightsFormat != sdk.FormatSafetensors || got.WeightsPath == src || filepath.Base(got.WeightsPath) != "tiny.pth" || req.WeightsPath != src {
		t.Fatalf("prepare = %+v; want a safetensors copy named tiny.pth, req untouched", got)
	}
	st, err := os.Stat(got.WeightsPath)
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.Stat(w.dir)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 || dst.Mode().Perm() != 0o700 {
		t.Errorf("converted file mode %v in folder mode %v; want 0600 in 0700", st.Mode().Perm(), dst.Mode().Perm())
	}
	sd, err := bridge.Load(got.WeightsPath)
	if err != nil {
		t.Fatalf("read the converted file: %v", err)
	}
	if !slices.Equal(sd.Keys, want.Keys) {
		t.Fatalf("converted keys %v; want %v", sd.Keys, want.Keys)
	}
	for _, k := range want.Keys {
		a, b := want.Tensors[k], sd.Tensors[k]
		if !sdk.EqualShape(a.Shape, b.Shape) || !slices.Equal(a.Float32, b.Float32) || !slices.Equal(a.Int64, b.Int64) {
			t.Errorf("tensor %s differs after conversion", k)
		}
	}
	if err := release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(got.WeightsPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after release, %s: %v; want it removed", got.WeightsPath, err)
	}

	for _, tc := range []struct {
		name string
		req  *sdk.LoadRequest
	}{
		{"onnx", &sdk.LoadRequest{WeightsPath: "/x/model.onnx"}},
		{"missing", &sdk.LoadRequest{WeightsPath: filepath.Join(t.TempDir(), "none.pth")}},
		{"not a checkpoint", &sdk.LoadRequest{WeightsPath: "weights_internal_test.go"}},
	} {
		if _, _, err := w.prepare(tc.req, "p", stOnly); !errors.Is(err, sdk.ErrWeights) {
			t.Errorf("prepare(%s) = %v; want sdk.ErrWeights", tc.name, err)
		}
	}

	dir := w.dir
	if _, _, err := w.prepare(req, "p", stOnly); err != nil {
		t.Fatal(err)
	}
	if err := w.remove(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("after remove, %s: %v; want it gone with the file left in it", dir, err)
	}
	if _, _, err := w.prepare(req, "p", stOnly); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("prepare after remove = %v; want sdk.ErrClosed", err)
	}
}
