package imageproc

import "image"

// libjpeg's YCbCr -> RGB tables (jdcolor.c, 16-bit fixed point).
var crR, cbB, crG, cbG [256]int32

func init() {
	const scale = 16
	const half = 1 << (scale - 1)
	fix := func(x float64) int32 { return int32(x*(1<<scale) + 0.5) }
	for i := 0; i < 256; i++ {
		x := int32(i - 128)
		crR[i] = (fix(1.40200)*x + half) >> scale
		cbB[i] = (fix(1.77200)*x + half) >> scale
		crG[i] = -fix(0.71414) * x
		cbG[i] = -fix(0.34414)*x + half
	}
}

func ycc(y, cb, cr uint8) (uint8, uint8, uint8) {
	yy := int32(y)
	return clip32(yy + crR[cr]), clip32(yy + ((cbG[cb] + crG[cr]) >> 16)), clip32(yy + cbB[cb])
}

func clip32(v int32) uint8 {
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// ycbcrToRGB converts with libjpeg's fancy upsampling of the chroma planes
// (the triangle filter PIL's libjpeg applies by default) for 4:2:0, 4:2:2
// and 4:4:0; other subsamplings use the nearest chroma sample.
func ycbcrToRGB(m *image.YCbCr, out *RGB) {
	w, h := out.W, out.H
	r := m.Rect
	var hs, vs int // subsampling factors
	switch m.SubsampleRatio {
	case image.YCbCrSubsampleRatio444:
		hs, vs = 1, 1
	case image.YCbCrSubsampleRatio422:
		hs, vs = 2, 1
	case image.YCbCrSubsampleRatio420:
		hs, vs = 2, 2
	case image.YCbCrSubsampleRatio440:
		hs, vs = 1, 2
	default:
		i := 0
		for y := r.Min.Y; y < r.Max.Y; y++ {
			for x := r.Min.X; x < r.Max.X; x++ {
				yi, ci := m.YOffset(x, y), m.COffset(x, y)
				out.Pix[i], out.Pix[i+1], out.Pix[i+2] = ycc(m.Y[yi], m.Cb[ci], m.Cr[ci])
				i += 3
			}
		}
		return
	}
	cw, ch := (w+hs-1)/hs, (h+vs-1)/vs
	// Chroma sample (plane column i, plane row j), relative to the image.
	cOff := func(i, j int) int { return m.COffset(r.Min.X+i*hs, r.Min.Y+j*vs) }
	cb := make([]uint8, w)
	cr := make([]uint8, w)
	sumB := make([]int, cw)
	sumR := make([]int, cw)
	for y := 0; y < h; y++ {
		j := y / vs
		// Vertical pass: a row sum (vs == 2) or the row itself times 4.
		if vs == 2 {
			nj := j - 1
			if y%2 == 1 {
				nj = j + 1
			}
			nj = max(0, min(nj, ch-1))
			for i := 0; i < cw; i++ {
				a, b := cOff(i, j), cOff(i, nj)
				sumB[i] = 3*int(m.Cb[a]) + int(m.Cb[b])
				sumR[i] = 3*int(m.Cr[a]) + int(m.Cr[b])
			}
		} else {
			for i := 0; i < cw; i++ {
				a := cOff(i, j)
				sumB[i], sumR[i] = int(m.Cb[a]), int(m.Cr[a])
			}
		}
		switch {
		case hs == 2 && vs == 2:
			h2v2(sumB, cb)
			h2v2(sumR, cr)
		case hs == 2:
			h2v1(sumB, cb)
			h2v1(sumR, cr)
		case vs == 2:
			bias := 1
			if y%2 == 1 {
				bias = 2
			}
			for x := 0; x < w; x++ {
				cb[x] = uint8((sumB[x] + bias) >> 2)
				cr[x] = uint8((sumR[x] + bias) >> 2)
			}
		default:
			for x := 0; x < w; x++ {
				cb[x], cr[x] = uint8(sumB[x]), uint8(sumR[x])
			}
		}
		yrow := m.Y[m.YOffset(r.Min.X, r.Min.Y+y):]
		o := out.Pix[3*w*y:]
		for x := 0; x < w; x++ {
			o[3*x], o[3*x+1], o[3*x+2] = ycc(yrow[x], cb[x], cr[x])
		}
	}
}

// h2v2 is the horizontal half of jdsample.c's h2v2_fancy_upsample over
// column sums (3*near row + far row).
func h2v2(s []int, out []uint8) {
	n := len(s)
	for x := range out {
		i := x / 2
		var v int
		if x%2 == 0 {
			if i == 0 {
				v = (s[0]*4 + 8) >> 4
			} else {
				v = (s[i]*3 + s[i-1] + 8) >> 4
			}
		} else {
			if i == n-1 {
				v = (s[i]*4 + 7) >> 4
			} else {
				v = (s[i]*3 + s[i+1] + 7) >> 4
			}
		}
		out[x] = uint8(v)
	}
}

// h2v1 is jdsample.c's h2v1_fancy_upsample.
func h2v1(s []int, out []uint8) {
	n := len(s)
	for x := range out {
		i := x / 2
		var v int
		if x%2 == 0 {
			if i == 0 {
				v = s[0]
			} else {
				v = (s[i]*3 + s[i-1] + 1) >> 2
			}
		} else {
			if i == n-1 {
				v = s[i]
			} else {
				v = (s[i]*3 + s[i+1] + 2) >> 2
			}
		}
		out[x] = uint8(v)
	}
}
