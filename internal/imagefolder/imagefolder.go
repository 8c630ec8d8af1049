package imagefolder

import (
	"errors"
	"fmt"
	"image"
	_ "image/gif" // registers GIF decoding
	_ "image/jpeg"
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// ImageNet's per-channel mean and standard deviation, torchvision's
// Normalize defaults for pretrained backbones.
var (
	ImageNetMean = [3]float32{0.485, 0.456, 0.406}
	ImageNetStd  = [3]float32{0.229, 0.224, 0.225}
)

// Options says how images become tensors.
type Options struct {
	Height, Width int        // output size; both must be positive
	Mean, Std     [3]float32 // per-channel normalisation; zero values mean ImageNet's
	// Classes, when set, fixes the class list and order (a validation tree
	// must use the training tree's classes).
	Classes []string
}

// Dataset is a loaded image tree.
type Dataset struct {
	Classes []string    // class folder names, sorted
	Input   *sdk.Tensor // [N, 3, Height, Width] float32
	Labels  []int64     // per row, an index into Classes
	Files   []string    // per row, the image file
}

// Load reads every image under root/CLASS/ (files whose extension is
// .png, .jpg, .jpeg or .gif; others are skipped).
func Load(root string, o Options) (*Dataset, error) {
	if o.Height <= 0 || o.Width <= 0 {
		return nil, fmt.Errorf("imagefolder: size %dx%d: give a positive height and width", o.Height, o.Width)
	}
	if o.Std == ([3]float32{}) {
		o.Std = ImageNetStd
		if o.Mean == ([3]float32{}) {
			o.Mean = ImageNetMean
		}
	}
	for _, s := range o.Std {
		if s <= 0 {
			return nil, fmt.Errorf("imagefolder: std %v: every channel's std must be positive", o.Std)
		}
	}
	classes := o.Classes
	if classes == nil {
		entries, err := os.ReadDir(root)
		if err != nil {
			return nil, fmt.Errorf("imagefolder: %w: point --data at a folder with one sub-folder per class", err)
		}
		for _, e := range entries {
			if e.IsDir() && !strings.HasPrefix(e.Name(), ".") {
				classes = append(classes, e.Name())
			}
		}
		sort.Strings(classes)
		if len(classes) == 0 {
			return nil, fmt.Errorf("imagefolder: %s has no class folders: lay images out as %s/CLASS/IMAGE", root, root)
		}
	}
	ds := &Dataset{Classes: classes}
	for ci, c := range classes {
		entries, err := os.ReadDir(filepath.Join(root, c))
		if err != nil {
			if errors.Is(err, os.ErrNotExist) {
				continue // a class with no images in this split
			}
			return nil, fmt.Errorf("imagefolder: %w", err)
		}
		for _, e := range entries {
			switch strings.ToLower(filepath.Ext(e.Name())) {
			case ".png", ".jpg", ".jpeg", ".gif":
				ds.Files = append(ds.Files, filepath.Join(root, c, e.Name()))
				ds.Labels = append(ds.Labels, int64(ci))
			}
		}
	}
	if len(ds.Files) == 0 {
		return nil, fmt.Errorf("imagefolder: no .png, .jpg or .gif images under %s/CLASS/", root)
	}
	per := 3 * o.Height * o.Width
	x := make([]float32, len(ds.Files)*per)
	for i, f := range ds.Files {
		img, err := decode(f)
		if err != nil {
			return nil, err
		}
		toTensor(img, o, x[i*per:(i+1)*per])
	}
	ds.Input = &sdk.Tensor{Shape: []int64{int64(len(ds.Files)), 3, int64(o.Height), int64(o.Width)}, Float32: x}
	return ds, nil
}

func decode(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("imagefolder: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("imagefolder: decode %s: %w", path, err)
	}
	if b := img.Bounds(); b.Dx() == 0 || b.Dy() == 0 {
		return nil, fmt.Errorf("imagefolder: %s is empty", path)
	}
	return img, nil
}

// toTensor resizes img bilinearly to o's size and writes normalised CHW
// values into dst.
func toTensor(img image.Image, o Options, dst []float32) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	// The source as float RGB in [0, 1].
	src := make([]float32, 3*w*h)
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
			i := y*w + x
			src[i] = float32(r>>8) / 255
			src[w*h+i] = float32(g>>8) / 255
			src[2*w*h+i] = float32(bl>>8) / 255
		}
	}
	sy, sx := float64(h)/float64(o.Height), float64(w)/float64(o.Width)
	for c := 0; c < 3; c++ {
		plane := src[c*w*h : (c+1)*w*h]
		for y := 0; y < o.Height; y++ {
			y0, y1, fy := coord(y, sy, h)
			for x := 0; x < o.Width; x++ {
				x0, x1, fx := coord(x, sx, w)
				top := plane[y0*w+x0]*(1-fx) + plane[y0*w+x1]*fx
				bot := plane[y1*w+x0]*(1-fx) + plane[y1*w+x1]*fx
				v := top*(1-fy) + bot*fy
				dst[c*o.Height*o.Width+y*o.Width+x] = (v - o.Mean[c]) / o.Std[c]
			}
		}
	}
}

// coord maps output index i to the two source indices and the weight of
// the second, with half-pixel centres clamped at the edges.
func coord(i int, scale float64, n int) (int, int, float32) {
	s := (float64(i)+0.5)*scale - 0.5
	if s < 0 {
		s = 0
	}
	i0 := int(math.Floor(s))
	if i0 > n-1 {
		i0 = n - 1
	}
	i1 := min(i0+1, n-1)
	return i0, i1, float32(s - float64(i0))
}
