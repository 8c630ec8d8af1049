package imageproc

import (
	"errors"
	"fmt"
	"math"
)

// ImageNet's channel statistics, torchvision's defaults.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Transform is torchvision's eval transform on a PIL image:
// [Grayscale(3)] -> Resize(ResizeSize, Interp) -> CenterCrop(CropH, CropW)
// -> ToTensor -> Normalize(Mean, Std). The zero Transform is not valid; use
// ImageNet or fill every field.
type Transform struct {
	// ResizeSize is the shorter side after Resize; 0 skips Resize.
	ResizeSize int
	// CropH, CropW are the CenterCrop size; 0 skips CenterCrop (the
	// output then has the resized size, which must be fixed for batching).
	CropH, CropW int
	Interp       Interpolation
	Mean, Std    [3]float32
	// Grayscale converts to luminance first (PIL's "L", ITU-R 601-2) and
	// replicates it to three channels, as Grayscale(num_output_channels=3).
	Grayscale bool
	// MinSide refuses images whose shorter side is below it (ErrTooSmall);
	// 0 accepts any size.
	MinSide int
}

// ImageNet returns torchvision's ImageNet eval transform: Resize 256
// bilinear (antialiased), CenterCrop 224, ImageNet mean and std.
func ImageNet() Transform {
	return Transform{ResizeSize: 256, CropH: 224, CropW: 224, Interp: Bilinear,
		Mean: ImageNetMean, Std: ImageNetStd, MinSide: 2}
}

// Validate reports a transform that cannot produce fixed-size output.
func (t Transform) Validate() error {
	if t.CropH <= 0 || t.CropW <= 0 {
		return errors.New("imageproc: transform needs a crop size (crop: 224, or crop: [H, W]) so that images batch together")
	}
	if t.ResizeSize < 0 {
		return fmt.Errorf("imageproc: resize %d: must be positive (or 0 for none)", t.ResizeSize)
	}
	for c := 0; c < 3; c++ {
		if !(t.Std[c] > 0) {
			return fmt.Errorf("imageproc: std %v: every channel must be positive", t.Std)
		}
	}
	return nil
}

// Len is the number of float32 values Apply writes: 3*CropH*CropW.
func (t Transform) Len() int { return 3 * t.CropH * t.CropW }

// Shape is the CHW shape of one output.
func (t Transform) Shape() []int64 { return []int64{3, int64(t.CropH), int64(t.CropW)} }

// ResizedSize is torchvision's size for Resize(size) of a w x h image:
// the shorter side becomes size, the longer int(size * long / short).
func ResizedSize(w, h, size int) (int, int) {
	if w <= h {
		return size, int(float64(size) * float64(h) / float64(w))
	}
	return int(float64(size) * float64(w) / float64(h)), size
}

// Apply transforms img into dst (len t.Len(), CHW float32).
func (t Transform) Apply(img *RGB, dst []float32) error {
	if err := t.check(img, dst); err != nil {
		return err
	}
	if t.Grayscale {
		img = gray3(img)
	}
	img, top, left, err := t.resizeCrop(img)
	if err != nil {
		return err
	}
	t.normalize(img, top, left, dst)
	return nil
}

// check reports a transform, destination or image that Apply cannot use.
func (t Transform) check(img *RGB, dst []float32) error {
	if err := t.Validate(); err != nil {
		return err
	}
	if len(dst) != t.Len() {
		return fmt.Errorf("imageproc: destination has %d values; want %d", len(dst), t.Len())
	}
	if img.W <= 0 || img.H <= 0 || len(img.Pix) != 3*img.W*img.H {
		return fmt.Errorf("%w: image %dx%d with %d bytes", ErrCorrupt, img.W, img.H, len(img.Pix))
	}
	if min(img.W, img.H) < t.MinSide {
		return fmt.Errorf("%w: %dx%d is below the %d-pixel minimum side (lower min_side in the preprocessing to accept it)", ErrTooSmall, img.W, img.H, t.MinSide)
	}
	return nil
}

// resizeCrop is Resize followed by the geometry of CenterCrop: it returns
// the resized (and, when the crop is larger, zero-padded) image and the
// top-left corner of the CropH x CropW window in it.
func (t Transform) resizeCrop(img *RGB) (out *RGB, top, left int, err error) {
	if t.ResizeSize > 0 {
		w, h := ResizedSize(img.W, img.H, t.ResizeSize)
		if w < 1 || h < 1 {
			return nil, 0, 0, fmt.Errorf("%w: %dx%d resized to %dx%d", ErrTooSmall, img.W, img.H, w, h)
		}
		img = Resize(img, w, h, t.Interp)
	}
	// CenterCrop: torchvision rounds the offsets half to even (Python's
	// round) and pads with zeros when the crop is larger than the image.
	if t.CropH > img.H || t.CropW > img.W {
		// torchvision pads (zeros) to the crop size first, then crops
		// the centre of the padded image.
		padT, padL := 0, 0
		ph, pw := img.H, img.W
		if t.CropH > img.H {
			padT = (t.CropH - img.H) / 2
			ph = t.CropH
		}
		if t.CropW > img.W {
			padL = (t.CropW - img.W) / 2
			pw = t.CropW
		}
		p := NewRGB(pw, ph)
		for y := 0; y < img.H; y++ {
			copy(p.Pix[3*((y+padT)*pw+padL):], img.Pix[3*y*img.W:3*(y+1)*img.W])
		}
		img = p
	}
	top = int(math.RoundToEven(float64(img.H-t.CropH) / 2))
	left = int(math.RoundToEven(float64(img.W-t.CropW) / 2))
	return img, top, left, nil
}

// normalize is ToTensor and Normalize of the CropH x CropW window of img
// whose top-left corner is (left, top), into dst.
func (t Transform) normalize(img *RGB, top, left int, dst []float32) {
	plane := t.CropH * t.CropW
	var lut [3][256]float32
	for c := 0; c < 3; c++ {
		for v := 0; v < 256; v++ {
			x := float32(v) / 255
			lut[c][v] = (x - t.Mean[c]) / t.Std[c]
		}
	}
	for y := 0; y < t.CropH; y++ {
		row := img.Pix[3*((y+top)*img.W+left):]
		for x := 0; x < t.CropW; x++ {
			i := y*t.CropW + x
			dst[i] = lut[0][row[3*x]]
			dst[plane+i] = lut[1][row[3*x+1]]
			dst[2*plane+i] = lut[2][row[3*x+2]]
		}
	}
}

// Load decodes the file at path and applies t; errors name the path.
func (t Transform) Load(path string, dst []float32) error {
	img, err := DecodeFile(path)
	if err != nil {
		return err
	}
	if err := t.Apply(img, dst); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// gray3 is PIL's convert("L") replicated to three channels.
func gray3(img *RGB) *RGB {
	out := NewRGB(img.W, img.H)
	for i := 0; i < len(img.Pix); i += 3 {
		l := luma(img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = l, l, l
	}
	return out
}
