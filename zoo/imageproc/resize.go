package imageproc

import (
	"fmt"
	"math"
	"strings"
)

// Interpolation is a resampling filter, as PIL defines it.
type Interpolation int

// The filters torchvision's Resize offers on PIL images (antialiased when
// downscaling, as PIL always is).
const (
	Bilinear Interpolation = iota
	Bicubic
	Nearest
)

// String returns the torchvision name of the filter.
func (i Interpolation) String() string {
	switch i {
	case Bilinear:
		return "bilinear"
	case Bicubic:
		return "bicubic"
	case Nearest:
		return "nearest"
	}
	return fmt.Sprintf("Interpolation(%d)", int(i))
}

// ParseInterpolation parses "bilinear", "bicubic" or "nearest".
func ParseInterpolation(s string) (Interpolation, error) {
	switch strings.ToLower(s) {
	case "bilinear", "linear", "":
		return Bilinear, nil
	case "bicubic", "cubic":
		return Bicubic, nil
	case "nearest":
		return Nearest, nil
	}
	return 0, fmt.Errorf("imageproc: interpolation %q: use bilinear, bicubic or nearest", s)
}

// precision is PIL's PRECISION_BITS for 8-bit images.
const precision = 32 - 8 - 2

type filter struct {
	support float64
	f       func(float64) float64
}

var filters = map[Interpolation]filter{
	Bilinear: {1, func(x float64) float64 {
		x = math.Abs(x)
		if x < 1 {
			return 1 - x
		}
		return 0
	}},
	Bicubic: {2, func(x float64) float64 {
		const a = -0.5
		x = math.Abs(x)
		if x < 1 {
			return ((a+2)*x-(a+3))*x*x + 1
		}
		if x < 2 {
			return (((x-5)*x+8)*x - 4) * a
		}
		return 0
	}},
}

// coeffs is PIL's precompute_coeffs + normalize_coeffs_8bpc.
type coeffs struct {
	ksize  int
	bounds []int // xmin, count per output
	k      []int32
}

func precompute(inSize, outSize int, fl filter) coeffs {
	scale := float64(inSize) / float64(outSize)
	filterscale := max(scale, 1)
	support := fl.support * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	c := coeffs{ksize: ksize, bounds: make([]int, 2*outSize), k: make([]int32, outSize*ksize)}
	kk := make([]float64, ksize)
	for xx := 0; xx < outSize; xx++ {
		center := (float64(xx) + 0.5) * scale
		ss := 1 / filterscale
		xmin := int(center - support + 0.5)
		if xmin < 0 {
			xmin = 0
		}
		xmax := int(center + support + 0.5)
		if xmax > inSize {
			xmax = inSize
		}
		xmax -= xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w := fl.f((float64(x+xmin) - center + 0.5) * ss)
			kk[x] = w
			ww += w
		}
		for x := 0; x < ksize; x++ {
			v := 0.0
			if x < xmax && ww != 0 {
				v = kk[x] / ww
			}
			if v < 0 {
				c.k[xx*ksize+x] = int32(-0.5 + v*(1<<precision))
			} else {
				c.k[xx*ksize+x] = int32(0.5 + v*(1<<precision))
			}
		}
		c.bounds[2*xx], c.bounds[2*xx+1] = xmin, xmax
	}
	return c
}

func clipFixed(v int32) uint8 {
	if v >= 1<<precision<<8 {
		return 255
	}
	if v <= 0 {
		return 0
	}
	return uint8(v >> precision)
}

// Resize resamples img to w x h as PIL's Image.resize does with the
// filter: a horizontal pass into an 8-bit image, then a vertical pass,
// each antialiased (the filter widens with the scale factor when
// downscaling).
func Resize(img *RGB, w, h int, interp Interpolation) *RGB {
	if w == img.W && h == img.H {
		return &RGB{W: w, H: h, Pix: append([]uint8(nil), img.Pix...)}
	}
	if interp == Nearest {
		return resizeNearest(img, w, h)
	}
	fl := filters[interp]
	needH, needV := w != img.W, h != img.H
	cv := precompute(img.H, h, fl)
	src := img
	if needH {
		ch := precompute(img.W, w, fl)
		// Only the source rows the vertical pass reads.
		first := cv.bounds[0]
		last := cv.bounds[2*h-2] + cv.bounds[2*h-1]
		if !needV {
			first, last = 0, img.H
		}
		tmp := NewRGB(w, last-first)
		for y := 0; y < tmp.H; y++ {
			in := img.Pix[3*img.W*(y+first):]
			out := tmp.Pix[3*w*y:]
			for xx := 0; xx < w; xx++ {
				xmin, n := ch.bounds[2*xx], ch.bounds[2*xx+1]
				k := ch.k[xx*ch.ksize:]
				s0, s1, s2 := int32(1<<(precision-1)), int32(1<<(precision-1)), int32(1<<(precision-1))
				p := in[3*xmin:]
				for x := 0; x < n; x++ {
					kv := k[x]
					s0 += int32(p[3*x]) * kv
					s1 += int32(p[3*x+1]) * kv
					s2 += int32(p[3*x+2]) * kv
				}
				out[3*xx], out[3*xx+1], out[3*xx+2] = clipFixed(s0), clipFixed(s1), clipFixed(s2)
			}
		}
		if needV {
			for i := 0; i < h; i++ {
				cv.bounds[2*i] -= first
			}
		}
		src = tmp
	}
	if !needV {
		return src
	}
	out := NewRGB(w, h)
	stride := 3 * w
	acc := make([]int32, stride)
	for yy := 0; yy < h; yy++ {
		ymin, n := cv.bounds[2*yy], cv.bounds[2*yy+1]
		k := cv.k[yy*cv.ksize:]
		for i := range acc {
			acc[i] = 1 << (precision - 1)
		}
		for y := 0; y < n; y++ {
			kv := k[y]
			row := src.Pix[(y+ymin)*stride : (y+ymin+1)*stride]
			for xx, v := range row {
				acc[xx] += int32(v) * kv
			}
		}
		o := out.Pix[stride*yy : stride*(yy+1)]
		for xx, v := range acc {
			o[xx] = clipFixed(v)
		}
	}
	return out
}

// resizeNearest is PIL's NEAREST: the source pixel at the output pixel's
// centre.
func resizeNearest(img *RGB, w, h int) *RGB {
	out := NewRGB(w, h)
	for y := 0; y < h; y++ {
		sy := min(int((float64(y)+0.5)*float64(img.H)/float64(h)), img.H-1)
		for x := 0; x < w; x++ {
			sx := min(int((float64(x)+0.5)*float64(img.W)/float64(w)), img.W-1)
			copy(out.Pix[3*(y*w+x):3*(y*w+x)+3], img.Pix[3*(sy*img.W+sx):])
		}
	}
	return out
}
