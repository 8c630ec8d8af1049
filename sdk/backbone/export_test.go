package backbone

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

// TestExport checks that an exported file computes what Extract does, at
// other sizes when the graph allows them, and that a size-dependent graph
// is written with its default sizes fixed.
func TestExport(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	m, err := New(tinyFamily).Load(ctx, &sdk.LoadRequest{Arch: "tiny", Seed: 5, Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ex, ok := m.(sdk.Exporter)
	if !ok {
		t.Fatal("model does not implement sdk.Exporter")
	}
	dir := t.TempDir()
	for _, tc := range []struct {
		layers []string
		hw     [2]int64 // a size other than the default 16x16
		fixed  bool
	}{
		{[]string{"fc", "pool"}, [2]int64{20, 24}, false},
		{[]string{"pool2"}, [2]int64{20, 24}, true},
	} {
		path := filepath.Join(dir, tc.layers[0]+".onnx")
		resp, err := ex.Export(ctx, &sdk.ExportRequest{Path: path, Format: sdk.FormatONNX, Layers: tc.layers})
		if err != nil {
			t.Fatalf("Export(%v) = %v", tc.layers, err)
		}
		data, err := os.ReadFile(path)
		if err != nil || int64(len(data)) != resp.Bytes {
			t.Fatalf("exported %d bytes, file has %d (%v)", resp.Bytes, len(data), err)
		}
		s, err := ort.NewSession(data, ort.WithThreads(1))
		if err != nil {
			t.Fatal(err)
		}
		for _, hw := range [][2]int64{{16, 16}, tc.hw} {
			x := input(2, hw[0], hw[1])
			got, err := s.Run(ctx, map[string]*sdk.Tensor{"input": x}, nil)
			if hw != [2]int64{16, 16} && tc.fixed {
				if err == nil {
					t.Errorf("Export(%v) runs at %v; want its input fixed at 16x16 (the graph depends on the size)", tc.layers, hw)
				}
				continue
			}
			if err != nil {
				t.Fatalf("exported %v at %v: %v", tc.layers, hw, err)
			}
			want, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: tc.layers})
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range tc.layers {
				if d := maxAbs(got[l], want.Outputs[l]); d > 1e-6 {
					t.Errorf("exported %s at %v differs from Extract by %g", l, hw, d)
				}
			}
		}
		s.Close()
	}
	if _, err := ex.Export(ctx, &sdk.ExportRequest{Path: filepath.Join(dir, "m.pth"), Format: sdk.FormatPTH}); !errors.Is(err, sdk.ErrUnsupported) {
		t.Errorf("Export(pth) = %v; want ErrUnsupported", err)
	}
	if _, err := ex.Export(ctx, &sdk.ExportRequest{Path: filepath.Join(dir, "x.onnx"), Format: sdk.FormatONNX, Layers: []string{"fcc"}}); !errors.Is(err, sdk.ErrUnknownLayer) {
		t.Errorf("Export(fcc) = %v; want ErrUnknownLayer", err)
	}
}

func maxAbs(a, b *sdk.Tensor) float64 {
	if a == nil || b == nil || len(a.Float32) != len(b.Float32) {
		return 1e9
	}
	d := 0.0
	for i := range a.Float32 {
		d = max(d, float64(abs32(a.Float32[i]-b.Float32[i])))
	}
	return d
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
