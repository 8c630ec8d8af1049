package plots

import (
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func checkPNG(t *testing.T, path string, minW, minH int) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("png.Decode(%s) = %v", path, err)
	}
	b := img.Bounds()
	if b.Dx() < minW || b.Dy() < minH {
		t.Errorf("%s is %dx%d; want at least %dx%d", path, b.Dx(), b.Dy(), minW, minH)
	}
	// Not blank: more than two colours.
	seen := map[uint32]bool{}
	for y := b.Min.Y; y < b.Max.Y; y += 3 {
		for x := b.Min.X; x < b.Max.X; x += 3 {
			r, g, bl, _ := img.At(x, y).RGBA()
			seen[r<<16^g<<8^bl] = true
		}
	}
	if len(seen) < 3 {
		t.Errorf("%s has %d colours; want a drawing", path, len(seen))
	}
}

func TestPlots(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		draw func(string) error
	}{
		{"lines.png", func(p string) error {
			return Lines(p, "acc", "C", "accuracy", true, Series{"val", []float64{0.01, 0.1, 1}, []float64{0.5, 0.7, 0.6}})
		}},
		{"heat.png", func(p string) error {
			return Heatmap(p, "confusion", "pred", "true", []string{"a", "b"}, []string{"a", "b"}, [][]float64{{5, 1}, {0, 7}}, "%.0f")
		}},
		{"scatter.png", func(p string) error {
			return Scatter(p, "pca", "pc1", "pc2", []float64{0, 1, 2}, []float64{1, 0, 2}, []int{0, 1, 1}, []string{"x", "y"})
		}},
		{"bars.png", func(p string) error {
			return Bars(p, "layers", "top-1", []string{"layer1", "layer2"}, []float64{0.5, 0.8})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := filepath.Join(dir, tt.name)
			if err := tt.draw(p); err != nil {
				t.Fatal(err)
			}
			checkPNG(t, p, 200, 200)
		})
	}
}
