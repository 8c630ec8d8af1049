package serve

import (
	"context"
	"fmt"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gozoo/gozoo/sdk"
)

// fakeModel is an in-process model for testing the server's own logic
// (batching, queueing, decoding) without a plugin process: "double" is
// 2x, "sum" is each row's sum as [N, 1]. Every Extract sleeps delay and
// records its batch size.
type fakeModel struct {
	delay time.Duration
	mu    sync.Mutex
	sizes []int64
	fail  func(x *sdk.Tensor) error
	// lengthsOK counts batches whose lengths matched their rows (each
	// row's first value is its length in TestLengths).
	lengthsOK, lengthsBad int
}

func (f *fakeModel) Layers(context.Context, *sdk.LayersRequest) ([]sdk.Layer, error) {
	return []sdk.Layer{{Name: "double", Kind: "Mul", Shape: []int64{-1, 4}}, {Name: "sum", Kind: "Sum", Shape: []int64{-1, 1}},
		{Name: "h_n", Kind: "LSTM", Shape: []int64{1, -1, 2}}}, nil
}

func (f *fakeModel) Extract(ctx context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	f.mu.Lock()
	f.sizes = append(f.sizes, req.Input.Shape[0])
	if req.Lengths != nil {
		ok := int64(len(req.Lengths)) == req.Input.Shape[0]
		for i := 0; ok && i < len(req.Lengths); i++ {
			ok = float32(req.Lengths[i]) == req.Input.Float32[i*4]
		}
		if ok {
			f.lengthsOK++
		} else {
			f.lengthsBad++
		}
	}
	f.mu.Unlock()
	if f.fail != nil {
		if err := f.fail(req.Input); err != nil {
			return nil, err
		}
	}
	select {
	case <-time.After(f.delay):
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	n := req.Input.Shape[0]
	out := map[string]*sdk.Tensor{}
	for _, l := range req.Layers {
		switch l {
		case "double":
			t := sdk.Zeros(n, 4)
			for i, v := range req.Input.Float32 {
				t.Float32[i] = 2 * v
			}
			out[l] = t
		case "sum":
			t := sdk.Zeros(n, 1)
			for i := int64(0); i < n; i++ {
				for _, v := range req.Input.Float32[i*4 : i*4+4] {
					t.Float32[i] += v
				}
			}
			out[l] = t
		default:
			return nil, fmt.Errorf("%w: %s", sdk.ErrUnknownLayer, l)
		}
	}
	return &sdk.ExtractResponse{Outputs: out}, nil
}

func (f *fakeModel) Params(context.Context) ([]sdk.Param, error) { return nil, nil }
func (f *fakeModel) SetTrainable(context.Context, *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	return &sdk.SetTrainableResponse{}, nil
}
func (f *fakeModel) Close() error { return nil }

func (f *fakeModel) batchSizes() []int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]int64(nil), f.sizes...)
}

// fakeServer serves one fakeModel named "fake" ([N, 4] FP32 input) over
// httptest; cfg adjusts the Model.
func fakeServer(t *testing.T, f *fakeModel, cfg func(*Model), opts ...Option) (*Server, *httptest.Server) {
	t.Helper()
	m := Model{
		Name:       "fake",
		InputShape: []int64{4},
		Outputs:    []string{"double", "sum"},
		Open: func(context.Context, int) (*Instance, error) {
			return &Instance{Model: f, Close: f.Close}, nil
		},
	}
	if cfg != nil {
		cfg(&m)
	}
	s, err := New(context.Background(), []Model{m}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		hs.Close()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s, hs
}
