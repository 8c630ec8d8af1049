package imageproc

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image/color"
	"io"
	"os"
	"runtime"
	"sync"
	"syscall"
)

// ErrNotRegular reports a path that is not a regular file (a named pipe,
// a device, a socket, a directory): it is never opened for reading, since
// reading a pipe or device can block for good or never end.
var ErrNotRegular = errors.New("imageproc: not a regular file")

// openRegular opens path for reading if it is a regular file (symbolic
// links to one are followed) and returns it with its size. It opens
// without blocking and checks the opened file again, so a pipe swapped in
// after the first check is refused too.
func openRegular(path string) (*os.File, int64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, 0, err
	}
	if !st.Mode().IsRegular() {
		return nil, 0, notRegular(path, st.Mode())
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	if st, err = f.Stat(); err != nil || !st.Mode().IsRegular() {
		f.Close()
		if err != nil {
			return nil, 0, err
		}
		return nil, 0, notRegular(path, st.Mode())
	}
	return f, st.Size(), nil
}

func notRegular(path string, m os.FileMode) error {
	kind := "not a regular file"
	switch {
	case m&os.ModeNamedPipe != 0:
		kind = "a named pipe"
	case m&os.ModeSocket != 0:
		kind = "a socket"
	case m&os.ModeDevice != 0:
		kind = "a device"
	case m.IsDir():
		kind = "a directory"
	}
	return fmt.Errorf("%s: %w (%s): only regular files are read as images", path, ErrNotRegular, kind)
}

// header is what an image file's header says about decoding it.
type header struct {
	format string
	w, h   int
	bpp    int // bytes a pixel takes in the decoder's own output
}

// cost estimates the bytes decoding and transforming the image holds at
// once: the decoder's output, the RGB copy and one more RGB copy (EXIF
// rotation or grayscale); resized images are smaller.
func (h header) cost() int64 {
	return int64(h.w) * int64(h.h) * int64(h.bpp+6)
}

// probe reads the size of the image in r from its header alone.
func probe(r io.Reader) (header, error) {
	br := bufio.NewReaderSize(r, 4096)
	b, _ := br.Peek(12)
	fm := detect(b)
	if fm == nil {
		return header{}, fmt.Errorf("%w: unrecognised header %q", ErrFormat, head(b))
	}
	if fm.name == "jpeg" {
		w, h, comps, err := jpegHeader(br)
		return header{format: "jpeg", w: w, h: h, bpp: comps}, err
	}
	cfg, err := fm.config(br)
	if err != nil {
		return header{}, fmt.Errorf("%w: %s header: %v", ErrCorrupt, fm.name, err)
	}
	bpp := 4
	switch cfg.ColorModel {
	case color.RGBA64Model, color.NRGBA64Model:
		bpp = 8
	}
	return header{format: fm.name, w: cfg.Width, h: cfg.Height, bpp: bpp}, nil
}

// jpegHeader reads a JPEG's markers up to its frame header (SOFn) and
// returns the frame's size and colour components, walking the markers as
// libjpeg does (fill bytes and stray bytes between markers are skipped).
func jpegHeader(r *bufio.Reader) (w, h, comps int, err error) {
	fail := func(why string) (int, int, int, error) {
		return 0, 0, 0, fmt.Errorf("%w: jpeg header: %s", ErrCorrupt, why)
	}
	var soi [2]byte
	if _, err := io.ReadFull(r, soi[:]); err != nil || soi != [2]byte{0xff, 0xd8} {
		return fail("no start of image")
	}
	for {
		c, err := r.ReadByte()
		if err != nil {
			return fail("no frame header")
		}
		if c != 0xff {
			continue
		}
		for c == 0xff {
			if c, err = r.ReadByte(); err != nil {
				return fail("no frame header")
			}
		}
		switch {
		case c == 0x00, c == 0x01, c == 0xd8, c >= 0xd0 && c <= 0xd7:
			continue // no length follows
		case c == 0xd9, c == 0xda:
			return fail("scan before the frame header")
		}
		var l [2]byte
		if _, err := io.ReadFull(r, l[:]); err != nil {
			return fail("truncated marker")
		}
		n := int(l[0])<<8 | int(l[1])
		if n < 2 {
			return fail("bad marker length")
		}
		if c >= 0xc0 && c <= 0xcf && c != 0xc4 && c != 0xc8 && c != 0xcc {
			var sof [6]byte
			if n < 8 {
				return fail("short frame header")
			}
			if _, err := io.ReadFull(r, sof[:]); err != nil {
				return fail("truncated frame header")
			}
			h = int(sof[1])<<8 | int(sof[2])
			w = int(sof[3])<<8 | int(sof[4])
			if w == 0 || h == 0 {
				return fail(fmt.Sprintf("size %dx%d", w, h))
			}
			return w, h, int(sof[5]), nil
		}
		if _, err := r.Discard(n - 2); err != nil {
			return fail("truncated marker")
		}
	}
}

// collectAfter is the decoding cost from which releasing it runs the
// garbage collector (images of about 25 megapixels and more), so the
// process's memory follows the budget; decoding such an image takes far
// longer than collecting.
const collectAfter = 256 << 20

// DecodeFileWithin reads and decodes the image at path as DecodeFile does,
// holding its estimated decoding memory (see Budget) from budget while it
// decodes and until the caller calls release, once it is done with the
// image. A nil budget bounds nothing. The header is read first, so an
// image over the whole budget is refused (ErrOverBudget) before its bytes
// are read; only regular files are read (ErrNotRegular). Errors name the
// path; release is never nil.
func DecodeFileWithin(ctx context.Context, path string, budget *Budget) (img *RGB, release func(), err error) {
	release = func() {}
	f, size, err := openRegular(path)
	if err != nil {
		return nil, release, err
	}
	defer f.Close()
	if size > maxFileBytes {
		return nil, release, fmt.Errorf("%s: %w: file over %d bytes", path, ErrTooLarge, maxFileBytes)
	}
	if budget != nil {
		cost := size
		hd, perr := probe(f)
		switch {
		case perr != nil:
			// Decode reports what is wrong; should it decode anyway,
			// it does so alone.
			cost = max(size, budget.Limit())
		case int64(hd.w)*int64(hd.h) <= MaxPixels:
			cost += hd.cost()
		}
		if err := budget.acquire(ctx, cost); err != nil {
			if errors.Is(err, ErrOverBudget) && perr == nil {
				return nil, release, fmt.Errorf("%s: %dx%d %s: %w", path, hd.w, hd.h, hd.format, err)
			}
			if errors.Is(err, ErrOverBudget) {
				return nil, release, fmt.Errorf("%s: %w", path, err)
			}
			return nil, release, err
		}
		release = sync.OnceFunc(func() {
			budget.release(cost)
			if cost >= collectAfter {
				// The garbage of a huge image would otherwise stay
				// until the heap doubles, and the next huge image
				// would grow the process by its size again.
				runtime.GC()
			}
		})
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			release()
			return nil, func() {}, fmt.Errorf("%s: %w", path, err)
		}
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(f, b); err != nil {
		release()
		return nil, func() {}, fmt.Errorf("%s: %w", path, err)
	}
	img, err = Decode(b)
	if err != nil {
		release()
		return nil, func() {}, fmt.Errorf("%s: %w", path, err)
	}
	return img, release, nil
}
