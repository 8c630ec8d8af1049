package imageproc

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/gif"
	"image/png"
	"io"

	"golang.org/x/image/bmp"
	"golang.org/x/image/webp"
)

// Errors returned by Decode. They are wrapped with the file and the cause.
var (
	// ErrFormat reports bytes that are not an image of a supported format.
	ErrFormat = errors.New("imageproc: not a supported image (JPEG, PNG, GIF, BMP, WebP)")
	// ErrCorrupt reports an image whose header parses but whose data does
	// not decode (truncated or damaged).
	ErrCorrupt = errors.New("imageproc: corrupt image")
	// ErrTooLarge reports an image with more pixels than MaxPixels.
	ErrTooLarge = errors.New("imageproc: image too large")
	// ErrTooSmall reports an image smaller than a Transform's MinSide.
	ErrTooSmall = errors.New("imageproc: image too small")
)

// MaxPixels is the largest image Decode accepts, PIL's decompression-bomb
// limit (2 * 89478485 pixels); larger images are refused before their
// pixels are decoded.
const MaxPixels = 2 * 89478485

// maxFileBytes bounds the bytes read from one file.
const maxFileBytes = 1 << 30

// RGB is an 8-bit RGB image, rows top to bottom, pixels interleaved.
type RGB struct {
	W, H int
	Pix  []uint8 // len 3*W*H
}

// NewRGB returns a black w x h image.
func NewRGB(w, h int) *RGB { return &RGB{W: w, H: h, Pix: make([]uint8, 3*w*h)} }

// format is a decoder: decode and config, or for JPEG (decoded by the
// system libjpeg straight to RGB) rgb.
type format struct {
	name   string
	rgb    func([]byte) (*RGB, error)
	decode func(io.Reader) (image.Image, error)
	config func(io.Reader) (image.Config, error)
	match  func([]byte) bool
}

var formats = []format{
	{"jpeg", decodeJPEG, nil, nil, func(b []byte) bool { return bytes.HasPrefix(b, []byte{0xff, 0xd8}) }},
	{"png", nil, png.Decode, png.DecodeConfig, func(b []byte) bool { return bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")) }},
	{"gif", nil, gif.Decode, gif.DecodeConfig, func(b []byte) bool {
		return bytes.HasPrefix(b, []byte("GIF87a")) || bytes.HasPrefix(b, []byte("GIF89a"))
	}},
	{"bmp", nil, bmp.Decode, bmp.DecodeConfig, func(b []byte) bool { return bytes.HasPrefix(b, []byte("BM")) }},
	{"webp", nil, webp.Decode, webp.DecodeConfig, func(b []byte) bool {
		return len(b) >= 12 && string(b[:4]) == "RIFF" && string(b[8:12]) == "WEBP"
	}},
}

// DecodeFile reads and decodes the image at path. Only regular files are
// read (ErrNotRegular); errors name the path. DecodeFileWithin also bounds
// the memory that decoders running at once hold.
func DecodeFile(path string) (*RGB, error) {
	img, _, err := DecodeFileWithin(context.Background(), path, nil)
	return img, err
}

// Decode decodes an image held in b, applies its EXIF orientation and
// converts it to RGB. The size is checked against MaxPixels before the
// pixels are decoded.
func Decode(b []byte) (*RGB, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty file", ErrFormat)
	}
	fm := detect(b)
	if fm == nil {
		return nil, fmt.Errorf("%w: unrecognised header %q", ErrFormat, head(b))
	}
	if fm.rgb != nil {
		out, err := fm.rgb(b)
		if err != nil {
			return nil, err
		}
		return Orient(out, exifOrientation(b)), nil
	}
	cfg, err := fm.config(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s header: %v", ErrCorrupt, fm.name, err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, fmt.Errorf("%w: %s has size %dx%d", ErrCorrupt, fm.name, cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxPixels {
		return nil, fmt.Errorf("%w: %dx%d %s has more than %d pixels (a decompression bomb or a huge scan: downscale it first)",
			ErrTooLarge, cfg.Width, cfg.Height, fm.name, MaxPixels)
	}
	img, err := fm.decode(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrCorrupt, fm.name, err)
	}
	return ToRGB(img), nil
}

// detect returns the format whose signature starts b, or nil.
func detect(b []byte) *format {
	for i := range formats {
		if formats[i].match(b) {
			return &formats[i]
		}
	}
	return nil
}

func head(b []byte) string {
	if len(b) > 8 {
		b = b[:8]
	}
	return string(b)
}

// ToRGB converts any image to RGB as PIL's convert("RGB") does.
func ToRGB(img image.Image) *RGB {
	r := img.Bounds()
	w, h := r.Dx(), r.Dy()
	out := NewRGB(w, h)
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrToRGB(m, out)
	case *image.Gray:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := out.Pix[3*w*y:]
			for x, v := range row {
				o[3*x], o[3*x+1], o[3*x+2] = v, v, v
			}
		}
	case *image.CMYK:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := out.Pix[3*w*y:]
			for x := 0; x < w; x++ {
				nk := 255 - int(row[4*x+3])
				for c := 0; c < 3; c++ {
					o[3*x+c] = clip8(nk - mulDiv255(int(row[4*x+c]), nk))
				}
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+4*w]
			o := out.Pix[3*w*y:]
			for x := 0; x < w; x++ {
				o[3*x], o[3*x+1], o[3*x+2] = row[4*x], row[4*x+1], row[4*x+2]
			}
		}
	case *image.Paletted:
		pal := make([][3]uint8, 256)
		for i, c := range m.Palette {
			n := color.NRGBAModel.Convert(c).(color.NRGBA)
			if rgba, ok := c.(color.RGBA); ok && rgba.A == 0 {
				n = color.NRGBA{rgba.R, rgba.G, rgba.B, 0}
			}
			pal[i] = [3]uint8{n.R, n.G, n.B}
		}
		for y := 0; y < h; y++ {
			row := m.Pix[y*m.Stride : y*m.Stride+w]
			o := out.Pix[3*w*y:]
			for x, v := range row {
				p := pal[v]
				o[3*x], o[3*x+1], o[3*x+2] = p[0], p[1], p[2]
			}
		}
	default:
		i := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				c := color.NRGBA64Model.Convert(img.At(x, y)).(color.NRGBA64)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = uint8(c.R>>8), uint8(c.G>>8), uint8(c.B>>8)
				i += 3
			}
		}
	}
	return out
}

func mulDiv255(a, b int) int {
	t := a*b + 128
	return ((t >> 8) + t) >> 8
}

func clip8(v int) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}
