package imagefolder_test

import (
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/imagefolder"
)

func writePNG(t testing.TB, path string, w, h int, c color.Color) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, c)
		}
	}
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		t.Fatal(err)
	}
}

func TestLoad(t *testing.T) {
	root := t.TempDir()
	writePNG(t, filepath.Join(root, "b", "1.png"), 5, 7, color.RGBA{255, 0, 0, 255})
	writePNG(t, filepath.Join(root, "a", "1.png"), 3, 3, color.RGBA{0, 255, 0, 255})
	writePNG(t, filepath.Join(root, "a", "2.png"), 9, 4, color.RGBA{0, 0, 255, 255})
	os.WriteFile(filepath.Join(root, "a", "notes.txt"), []byte("x"), 0o644)
	ds, err := imagefolder.Load(root, imagefolder.Options{Height: 4, Width: 6, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(ds.Classes) != "[a b]" || fmt.Sprint(ds.Labels) != "[0 0 1]" || fmt.Sprint(ds.Input.Shape) != "[3 3 4 6]" {
		t.Fatalf("Load() = classes %v labels %v shape %v; want [a b] [0 0 1] [3 3 4 6]", ds.Classes, ds.Labels, ds.Input.Shape)
	}
	// A flat colour stays flat through resizing: +1 where the channel is
	// full, -1 where it is empty.
	per := 3 * 4 * 6
	for row, want := range [][3]float32{{-1, 1, -1}, {-1, -1, 1}, {1, -1, -1}} {
		for c := 0; c < 3; c++ {
			for i := 0; i < 24; i++ {
				if v := ds.Input.Float32[row*per+c*24+i]; math.Abs(float64(v-want[c])) > 1e-6 {
					t.Fatalf("row %d channel %d = %v; want %v", row, c, v, want[c])
				}
			}
		}
	}
}

func TestLoadErrors(t *testing.T) {
	empty := t.TempDir()
	noImages := t.TempDir()
	os.MkdirAll(filepath.Join(noImages, "cls"), 0o755)
	bad := t.TempDir()
	os.MkdirAll(filepath.Join(bad, "cls"), 0o755)
	os.WriteFile(filepath.Join(bad, "cls", "x.png"), []byte("not a png"), 0o644)
	for _, tc := range []struct {
		name, root string
		o          imagefolder.Options
	}{
		{"size", empty, imagefolder.Options{}},
		{"missing", filepath.Join(empty, "nope"), imagefolder.Options{Height: 2, Width: 2}},
		{"no classes", empty, imagefolder.Options{Height: 2, Width: 2}},
		{"no images", noImages, imagefolder.Options{Height: 2, Width: 2}},
		{"corrupt", bad, imagefolder.Options{Height: 2, Width: 2}},
		{"std", noImages, imagefolder.Options{Height: 2, Width: 2, Std: [3]float32{1, 0, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := imagefolder.Load(tc.root, tc.o); err == nil {
				t.Errorf("Load(%s) = nil error; want one", tc.name)
			}
		})
	}
}

func ExampleLoad() {
	root, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(root)
	os.MkdirAll(filepath.Join(root, "cat"), 0o755)
	f, _ := os.Create(filepath.Join(root, "cat", "1.png"))
	png.Encode(f, image.NewGray(image.Rect(0, 0, 28, 28)))
	f.Close()
	ds, err := imagefolder.Load(root, imagefolder.Options{Height: 32, Width: 32})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(ds.Classes, ds.Input.Shape, ds.Labels)
	// Output: [cat] [1 3 32 32] [0]
}
