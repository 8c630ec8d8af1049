package imageproc_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

// TestDecodeJPEGMatchesPIL checks that JPEGs decode to exactly PIL's
// pixels (both use the system libjpeg with the same settings).
func TestDecodeJPEGMatchesPIL(t *testing.T) {
	testenv.Python(t)
	if out, err := testenvImportSkimage(); err != nil {
		testenv.Missing(t, "scikit-image photos", "apt-get install python3-skimage (make setup does): "+out)
	}
	dir := t.TempDir()
	testenv.RunPython(t, "testdata/make_jpeg_pixels.py", dir)
	names, err := os.ReadFile(filepath.Join(dir, "names.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range strings.Fields(string(names)) {
		t.Run(name, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(dir, name+".rgb"))
			if err != nil {
				t.Fatal(err)
			}
			img, err := imageproc.DecodeFile(filepath.Join(dir, name+".jpg"))
			if err != nil {
				t.Fatal(err)
			}
			if img.W != 157 || img.H != 101 {
				t.Fatalf("size %dx%d; want 157x101", img.W, img.H)
			}
			if !bytes.Equal(img.Pix, want) {
				n, mx := 0, 0
				for i := range want {
					if d := int(img.Pix[i]) - int(want[i]); d != 0 {
						n++
						mx = max(mx, d, -d)
					}
				}
				t.Errorf("%s.jpg: %d of %d samples differ from PIL's, by up to %d", name, n, len(want), mx)
			}
		})
	}
}
