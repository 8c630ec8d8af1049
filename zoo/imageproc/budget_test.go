package imageproc

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/jpeg"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestBudgetOrderAndCancel(t *testing.T) {
	b := NewBudget(100)
	ctx := context.Background()
	if err := b.acquire(ctx, 101); !errors.Is(err, ErrOverBudget) || !strings.Contains(err.Error(), "101 bytes; the budget is 100 bytes") {
		t.Fatalf("acquire(101) of 100 = %v; want ErrOverBudget naming both sizes", err)
	}
	if err := b.acquire(ctx, 60); err != nil {
		t.Fatal(err)
	}
	queued := func(n int) { // waits until n acquires are queued
		for {
			b.mu.Lock()
			l := b.waiters.Len()
			b.mu.Unlock()
			if l == n {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	got := make(chan int64, 3)
	go func() { b.acquire(ctx, 50); got <- 50 }() // waits: 60+50 > 100
	queued(1)
	go func() { b.acquire(ctx, 10); got <- 10 }() // fits, but waits its turn behind 50 (checked below)
	queued(2)
	cctx, cancel := context.WithCancel(ctx)
	cancelled := make(chan error)
	go func() { cancelled <- b.acquire(cctx, 40) }()
	queued(3)
	select {
	case n := <-got:
		t.Fatalf("acquire(%d) went ahead of the queue or over the budget", n)
	default:
	}
	cancel()
	if err := <-cancelled; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled acquire = %v; want context.Canceled", err)
	}
	b.release(60)
	if a, c := <-got, <-got; a+c != 60 {
		t.Errorf("granted %d and %d after the release; want 50 and 10", a, c)
	}
	if p := b.Peak(); p != 60 {
		t.Errorf("Peak = %d; want 60", p)
	}
	b.release(50)
	b.release(10)
	if b.used != 0 || b.waiters.Len() != 0 {
		t.Errorf("after every release: used %d, %d waiting; want 0 and 0", b.used, b.waiters.Len())
	}
}

func encodePNG(t *testing.T, w, h int) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewRGBA(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// TestNotRegularNeverRead puts a named pipe, a socket, a directory and a
// link to a device where images are expected: each is refused at once
// (opening the pipe for reading would block for good), and a link to a
// regular image is read.
func TestNotRegularNeverRead(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe.jpg")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "sock.png")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	os.Mkdir(filepath.Join(dir, "dir.png"), 0o755)
	os.Symlink("/dev/zero", filepath.Join(dir, "zero.png"))
	os.WriteFile(filepath.Join(dir, "real.png"), encodePNG(t, 4, 3), 0o644)
	os.Symlink("real.png", filepath.Join(dir, "link.png"))
	for _, tc := range []struct{ name, kind string }{
		{"pipe.jpg", "named pipe"}, {"sock.png", "socket"}, {"dir.png", "directory"}, {"zero.png", "device"},
	} {
		done := make(chan error, 1)
		go func() {
			_, _, err := DecodeFileWithin(context.Background(), filepath.Join(dir, tc.name), NewBudget(1<<20))
			done <- err
		}()
		select {
		case err := <-done:
			if !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), tc.name) || !strings.Contains(err.Error(), tc.kind) {
				t.Errorf("DecodeFileWithin(%s) = %v; want ErrNotRegular naming the file and %q", tc.name, err, tc.kind)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("DecodeFileWithin(%s) still blocked after 5 s", tc.name)
		}
	}
	if img, err := DecodeFile(filepath.Join(dir, "link.png")); err != nil || img.W != 4 {
		t.Errorf("DecodeFile(link to a PNG) = %v, %v; want the 4x3 image", img, err)
	}
}

func TestDecodeWithinBudget(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "big.png")
	data := encodePNG(t, 300, 200)
	os.WriteFile(path, data, 0o644)
	cost := int64(len(data)) + 300*200*(4+6)
	var gray bytes.Buffer
	jpeg.Encode(&gray, image.NewGray(image.Rect(0, 0, 50, 40)), nil)
	jpath := filepath.Join(dir, "g.jpg")
	os.WriteFile(jpath, gray.Bytes(), 0o644)

	b := NewBudget(cost - 1)
	if _, _, err := DecodeFileWithin(context.Background(), path, b); !errors.Is(err, ErrOverBudget) ||
		!strings.Contains(err.Error(), "big.png: 300x200 png") {
		t.Fatalf("DecodeFileWithin over the budget = %v; want ErrOverBudget naming the file and its size", err)
	}
	b = NewBudget(cost)
	img, release, err := DecodeFileWithin(context.Background(), path, b)
	if err != nil || img.W != 300 {
		t.Fatalf("DecodeFileWithin = %v; want the image", err)
	}
	if b.used != cost {
		t.Errorf("while the image is held the budget has %d bytes taken; want its cost %d", b.used, cost)
	}
	release()
	release()
	if b.used != 0 {
		t.Errorf("after release %d bytes are still taken", b.used)
	}
	b = NewBudget(1 << 20)
	if _, release, err := DecodeFileWithin(context.Background(), jpath, b); err != nil {
		t.Fatal(err)
	} else {
		release()
	}
	if want := int64(gray.Len()) + 50*40*(1+6); b.Peak() != want {
		t.Errorf("grayscale JPEG cost %d; want file + 7 bytes a pixel = %d", b.Peak(), want)
	}
}

// FuzzJPEGHeader checks the header reader against libjpeg: it never
// panics, and whenever both read an image they agree on its size.
func FuzzJPEGHeader(f *testing.F) {
	jpg, _ := os.ReadFile(filepath.Join("testdata", "tiny.jpg"))
	f.Add(jpg)
	f.Add(exifJPEG(f, jpg, 6))
	f.Add(jpg[:len(jpg)/4])
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte{0xff, 0xd8}) {
			data = append([]byte{0xff, 0xd8}, data...)
		}
		h, err := probe(bytes.NewReader(data))
		img, derr := decodeJPEG(data)
		if err != nil || derr != nil {
			return
		}
		if h.w != img.W || h.h != img.H {
			t.Fatalf("header says %dx%d; libjpeg decoded %dx%d", h.w, h.h, img.W, img.H)
		}
	})
}
