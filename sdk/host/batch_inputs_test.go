package host_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// sumModel answers "sum": per row, the first input's and every further
// input's row sums added, so that rows split wrongly show.
type sumModel struct {
	sdk.Model
	calls [][]int64 // the first dimension of every further input, per call
}

func (m *sumModel) Extract(_ context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	n := req.Input.Shape[0]
	out := sdk.Zeros(n, 1)
	var dims []int64
	add := func(t *sdk.Tensor) {
		w := sdk.NumElements(t.Shape) / t.Shape[0]
		for i := int64(0); i < n; i++ {
			for j := int64(0); j < w; j++ {
				if t.Int64 != nil {
					out.Float32[i] += float32(t.Int64[i*w+j])
				} else {
					out.Float32[i] += t.Float32[i*w+j]
				}
			}
		}
	}
	add(req.Input)
	for _, name := range []string{"a", "b"} {
		if t, ok := req.Inputs[name]; ok {
			add(t)
			dims = append(dims, t.Shape[0])
		}
	}
	m.calls = append(m.calls, dims)
	return &sdk.ExtractResponse{Outputs: map[string]*sdk.Tensor{"sum": out}}, nil
}

func TestExtractBatchesInputs(t *testing.T) {
	x := &sdk.Tensor{Shape: []int64{5, 2}, Int64: []int64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}}
	a := &sdk.Tensor{Shape: []int64{5, 1}, Float32: []float32{100, 200, 300, 400, 500}}
	b := &sdk.Tensor{Shape: []int64{5}, Int64: []int64{1000, 2000, 3000, 4000, 5000}}
	m := &sumModel{}
	resp, err := host.ExtractBatches(context.Background(), m, &sdk.ExtractRequest{Input: x, Inputs: map[string]*sdk.Tensor{"a": a, "b": b}}, 2, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1103, 2207, 3311, 4415, 5519}
	if got := resp.Outputs["sum"].Float32; !reflect.DeepEqual(got, want) {
		t.Errorf("ExtractBatches sums = %v; want %v", got, want)
	}
	if want := [][]int64{{2, 2}, {2, 2}, {1, 1}}; !reflect.DeepEqual(m.calls, want) {
		t.Errorf("further inputs' rows per batch = %v; want %v", m.calls, want)
	}
	short := &sdk.Tensor{Shape: []int64{4, 1}, Float32: make([]float32, 4)}
	_, err = host.ExtractBatches(context.Background(), &sumModel{}, &sdk.ExtractRequest{Input: x, Inputs: map[string]*sdk.Tensor{"a": short}}, 2, nil)
	if !errors.Is(err, sdk.ErrBadInput) || err.Error() != `sdk: bad input: input "a" is float32[4, 1]; want 5 rows, as the first input has` {
		t.Errorf("ExtractBatches with 4 rows of a = %v; want ErrBadInput naming dtype and shape", err)
	}
}

// oldToy returns the toy backbone as a plugin of protocol minor minor,
// named "old", served by a client of its own.
func oldToy(t *testing.T, minor int) sdk.Backbone {
	t.Helper()
	dir := t.TempDir()
	man := fmt.Sprintf(`{"command": [%q], "env": {"TOY_PROTOCOL_MINOR": "%d"}}`, toyBin, minor)
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-old.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := host.New(host.WithPluginPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	bb, err := c.Backbone(context.Background(), "old")
	if err != nil {
		t.Fatal(err)
	}
	return bb
}

// TestInputsNeedMinor1 sends further inputs to a plugin that speaks
// protocol minor 0: the host refuses before the plugin sees them.
func TestInputsNeedMinor1(t *testing.T) {
	ctx := context.Background()
	m := load(t, oldToy(t, 0), nil)
	x := sdk.Zeros(2, 4)
	if _, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x}); err != nil {
		t.Fatalf("Extract with one input = %v", err)
	}
	_, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Inputs: map[string]*sdk.Tensor{"mask": sdk.Zeros(2, 4)}})
	if !errors.Is(err, sdk.ErrUnsupported) || !strings.Contains(err.Error(), "protocol minor 0") {
		t.Errorf("Extract with a further input on a minor-0 plugin = %v; want ErrUnsupported naming the minor", err)
	}
}
