package torch_test

import (
	"compress/gzip"
	"encoding/binary"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
)

// fashionDir is where Debian's dataset-fashion-mnist installs the IDX files.
const fashionDir = "/usr/share/datasets/fashion-mnist"

// readIDX reads a gzipped IDX file (images [N, 28, 28] or labels [N]) and
// returns its first n items' bytes and the per-item size.
func readIDX(t testing.TB, name string, n int) ([]byte, int) {
	t.Helper()
	f, err := os.Open(filepath.Join(fashionDir, name))
	if err != nil {
		testenv.Missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist (make setup installs it)")
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var magic uint32
	if err := binary.Read(z, binary.BigEndian, &magic); err != nil {
		t.Fatal(err)
	}
	dims := int(magic & 0xff)
	if magic>>8 != 0x08 || dims < 1 || dims > 3 {
		t.Fatalf("%s: not an unsigned-byte IDX file (magic %#x)", name, magic)
	}
	shape := make([]uint32, dims)
	if err := binary.Read(z, binary.BigEndian, shape); err != nil {
		t.Fatal(err)
	}
	item := 1
	for _, d := range shape[1:] {
		item *= int(d)
	}
	if n > int(shape[0]) {
		t.Fatalf("%s holds %d items; want %d", name, shape[0], n)
	}
	buf := make([]byte, n*item)
	if _, err := io.ReadFull(z, buf); err != nil {
		t.Fatal(err)
	}
	return buf, item
}

// writeFashion writes the first nTrain training and nVal test images of
// Fashion-MNIST as an image tree root/{train,val}/CLASS/NNNNN.png.
func writeFashion(t testing.TB, root string, nTrain, nVal int) {
	t.Helper()
	for _, split := range []struct {
		dir, images, labels string
		n                   int
	}{
		{"train", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz", nTrain},
		{"val", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz", nVal},
	} {
		pix, size := readIDX(t, split.images, split.n)
		labels, _ := readIDX(t, split.labels, split.n)
		for i := 0; i < split.n; i++ {
			dir := filepath.Join(root, split.dir, fmt.Sprint(labels[i]))
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			img := &image.Gray{Pix: pix[i*size : (i+1)*size], Stride: 28, Rect: image.Rect(0, 0, 28, 28)}
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%05d.png", i)))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(f, img); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
}
