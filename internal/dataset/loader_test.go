package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/zoo/imageproc"
)

// TestLoadSkipsPipesAndBoundsMemory loads a folder of PNGs with a named
// pipe among them, on 4 workers within a budget that holds two images:
// the pipe is an error at once (never opened for reading), every image
// decodes, and the memory held at once never passed the budget.
func TestLoadSkipsPipesAndBoundsMemory(t *testing.T) {
	dir := t.TempDir()
	var buf bytes.Buffer
	png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, 200, 150)))
	for i := 0; i < 8; i++ {
		os.WriteFile(filepath.Join(dir, fmt.Sprintf("a%d.png", i)), buf.Bytes(), 0o644)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "a3pipe.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := OpenKind(dir, "folder")
	if err != nil {
		t.Fatal(err)
	}
	cost := int64(buf.Len()) + 200*150*10
	budget := imageproc.NewBudget(2*cost + cost/2)
	tf := imageproc.Transform{ResizeSize: 32, CropH: 32, CropW: 32, Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var good, pipes int
	for b := range LoadWithin(ctx, d, tf, 0, 3, 4, budget) {
		for i, err := range b.Errs {
			switch {
			case err == nil:
				good++
			case errors.Is(err, imageproc.ErrNotRegular) && filepath.Base(b.Samples[i].Path) == "a3pipe.png":
				pipes++
			default:
				t.Errorf("%s: %v", b.Samples[i].Path, err)
			}
		}
	}
	if ctx.Err() != nil {
		t.Fatal("Load did not finish within a minute: the pipe blocked it")
	}
	if good != 8 || pipes != 1 {
		t.Errorf("%d images decoded, %d pipes refused; want 8 and 1", good, pipes)
	}
	if p := budget.Peak(); p > budget.Limit() || p < cost {
		t.Errorf("peak decoding memory %d; want between one image's %d and the budget %d", p, cost, budget.Limit())
	}
}
