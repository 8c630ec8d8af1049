package imageproc

import (
	"errors"
	"fmt"
	"math"
	"math/rand"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// Augment describes random train-time augmentations, as
// torchvision.transforms applies them to a PIL image, in torchvision's
// usual order: RandomResizedCrop (or, with NoCrop, the Transform's own
// Resize + CenterCrop) -> RandomHorizontalFlip -> RandomRotation ->
// ColorJitter. Sample draws one image's parameters; a Transform's
// ApplyAugmented applies them. Augment is a plain value, safe for
// concurrent use.
type Augment struct {
	// Scale is RandomResizedCrop's range of the crop's area as a fraction
	// of the image's; the zero value means torchvision's {0.08, 1}.
	Scale [2]float64
	// Ratio is RandomResizedCrop's range of the crop's aspect ratio
	// (width / height); the zero value means torchvision's {3/4, 4/3}.
	Ratio [2]float64
	// NoCrop replaces RandomResizedCrop with the Transform's Resize +
	// CenterCrop (the eval geometry); Scale and Ratio are then unused.
	NoCrop bool
	// HFlip is RandomHorizontalFlip's probability (0: off).
	HFlip float64
	// Rotation is RandomRotation's degrees: the angle is uniform in
	// [-Rotation, Rotation], counter-clockwise, nearest-neighbour, about
	// the centre, black fill, same size (0: off).
	Rotation float64
	// Brightness, Contrast and Saturation are ColorJitter's factors: each
	// factor is uniform in [max(0, 1-v), 1+v] (0: off). Hue's factor is
	// uniform in [-Hue, Hue], Hue <= 0.5 (0: off).
	Brightness, Contrast, Saturation, Hue float64
}

// AugmentParams are one draw of Augment's random choices for one image;
// Augment.Sample makes them. Identity factors are Brightness, Contrast and
// Saturation 1 and Hue 0 (a zero factor is not the identity: brightness 0
// is a black image).
type AugmentParams struct {
	// CropX, CropY, CropW, CropH are the RandomResizedCrop box in the
	// source image (left, top, width, height). A zero box (CropW and CropH
	// 0) means the Transform's Resize + CenterCrop instead.
	CropX, CropY, CropW, CropH int
	// Flip mirrors the image left to right.
	Flip bool
	// Angle is the counter-clockwise rotation in degrees (0: none).
	Angle float64
	// Brightness, Contrast, Saturation and Hue are ColorJitter's factors,
	// as torchvision.transforms.functional.adjust_* take them; Hue 0 skips
	// the hue adjustment.
	Brightness, Contrast, Saturation, Hue float64
	// JitterOrder is the order ColorJitter applies its adjustments in
	// (0 brightness, 1 contrast, 2 saturation, 3 hue), torch.randperm(4);
	// the zero value means 0, 1, 2, 3.
	JitterOrder [4]int
}

// Torchvision's RandomResizedCrop defaults.
var (
	defaultScale = [2]float64{0.08, 1}
	defaultRatio = [2]float64{3.0 / 4, 4.0 / 3}
)

// DefaultAugment returns the train augmentation of torchvision's
// transfer-learning tutorial: RandomResizedCrop (scale 0.08-1, ratio
// 3/4-4/3) and RandomHorizontalFlip (p 0.5).
func DefaultAugment() Augment {
	return Augment{Scale: defaultScale, Ratio: defaultRatio, HFlip: 0.5}
}

// canonical fills the zero Scale and Ratio with torchvision's defaults, or
// clears them when NoCrop makes them unused.
func (a Augment) canonical() Augment {
	if a.NoCrop {
		a.Scale, a.Ratio = [2]float64{}, [2]float64{}
		return a
	}
	if a.Scale == [2]float64{} {
		a.Scale = defaultScale
	}
	if a.Ratio == [2]float64{} {
		a.Ratio = defaultRatio
	}
	return a
}

// Validate reports an Augment whose ranges torchvision would refuse or
// that cannot be sampled, naming the ParseAugment key to fix.
func (a Augment) Validate() error {
	a = a.canonical()
	finite := func(vs ...float64) bool {
		for _, v := range vs {
			if math.IsNaN(v) || math.IsInf(v, 0) {
				return false
			}
		}
		return true
	}
	if !a.NoCrop {
		if !finite(a.Scale[:]...) || !(a.Scale[0] > 0 && a.Scale[0] <= a.Scale[1] && a.Scale[1] <= 1) {
			return fmt.Errorf("imageproc: augment crop=%s: the area range must satisfy 0 < low <= high <= 1 (e.g. crop=0.08-1)", formatRange(a.Scale))
		}
		if !finite(a.Ratio[:]...) || !(a.Ratio[0] > 0 && a.Ratio[0] <= a.Ratio[1]) {
			return fmt.Errorf("imageproc: augment ratio=%s: the aspect range must satisfy 0 < low <= high (e.g. ratio=0.75-1.3333)", formatRange(a.Ratio))
		}
	}
	if !finite(a.HFlip) || a.HFlip < 0 || a.HFlip > 1 {
		return fmt.Errorf("imageproc: augment flip=%s: the probability must be in [0, 1]", formatFloat(a.HFlip))
	}
	if !finite(a.Rotation) || a.Rotation < 0 || a.Rotation > 180 {
		return fmt.Errorf("imageproc: augment rotate=%s: degrees must be in [0, 180]", formatFloat(a.Rotation))
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"brightness", a.Brightness}, {"contrast", a.Contrast}, {"saturation", a.Saturation}} {
		if !finite(f.v) || f.v < 0 {
			return fmt.Errorf("imageproc: augment %s=%s: the jitter must be a non-negative number", f.name, formatFloat(f.v))
		}
	}
	if !finite(a.Hue) || a.Hue < 0 || a.Hue > 0.5 {
		return fmt.Errorf("imageproc: augment hue=%s: the hue jitter must be in [0, 0.5]", formatFloat(a.Hue))
	}
	return nil
}

// augmentKeys are ParseAugment's keys, in String's order.
var augmentKeys = []string{"crop", "ratio", "flip", "rotate", "jitter", "brightness", "contrast", "saturation", "hue"}

// ParseAugment parses an augmentation spec: "none" (no augmentation: the
// eval geometry), "default" (DefaultAugment), or comma-separated
// key=value items, where an omitted key is off:
//
//	crop=LOW-HIGH     RandomResizedCrop area range (bare "crop": 0.08-1; crop=none: Resize+CenterCrop)
//	ratio=LOW-HIGH    its aspect range, 3/4-4/3 unless given (fractions allowed)
//	flip=P            RandomHorizontalFlip probability (bare "flip": 0.5)
//	rotate=DEGREES    RandomRotation, angle uniform in [-DEGREES, DEGREES]
//	jitter=B/C/S/H    ColorJitter brightness/contrast/saturation/hue (trailing ones may be left out)
//	brightness=B, contrast=C, saturation=S, hue=H   the same one at a time
//
// "default" may also start a list that the following items change, as in
// "default,rotate=15". Example: "crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1".
// The result is valid (Validate returns nil) and its String parses back
// to it.
func ParseAugment(spec string) (Augment, error) {
	s := strings.TrimSpace(spec)
	switch strings.ToLower(s) {
	case "none", "off":
		return Augment{NoCrop: true}, nil
	case "":
		return Augment{}, errors.New(`imageproc: empty augment spec: use "none", "default" or items such as crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1`)
	}
	a := Augment{NoCrop: true}
	seen := map[string]bool{}
	for i, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		key, val, hasVal := strings.Cut(item, "=")
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		if key == "default" && !hasVal {
			if i != 0 {
				return Augment{}, fmt.Errorf("imageproc: augment %q: \"default\" must come first (then items change it)", spec)
			}
			a = DefaultAugment()
			continue
		}
		if key == "" {
			return Augment{}, fmt.Errorf("imageproc: augment %q: empty item (items are key=value, separated by commas)", spec)
		}
		if seen[key] {
			return Augment{}, fmt.Errorf("imageproc: augment %q: %s is given twice", spec, key)
		}
		seen[key] = true
		if err := a.set(key, val, hasVal); err != nil {
			return Augment{}, fmt.Errorf("imageproc: augment %q: %w", spec, err)
		}
	}
	if seen["ratio"] && a.NoCrop {
		return Augment{}, fmt.Errorf("imageproc: augment %q: ratio is RandomResizedCrop's and needs crop (add crop=0.08-1)", spec)
	}
	a = a.canonical()
	if err := a.Validate(); err != nil {
		return Augment{}, fmt.Errorf("%w (in %q)", err, spec)
	}
	return a, nil
}

// set applies one key=value item of ParseAugment.
func (a *Augment) set(key, val string, hasVal bool) error {
	if !hasVal {
		switch key {
		case "crop":
			a.NoCrop, a.Scale = false, defaultScale
			return nil
		case "flip":
			a.HFlip = 0.5
			return nil
		}
	}
	num := func() (float64, error) {
		if !hasVal || val == "" {
			return 0, fmt.Errorf("%s needs a value (%s=NUMBER)", key, key)
		}
		v, err := strconv.ParseFloat(val, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, fmt.Errorf("%s=%s: not a number", key, val)
		}
		return v, nil
	}
	var err error
	switch key {
	case "crop":
		if strings.EqualFold(val, "none") || strings.EqualFold(val, "off") {
			a.NoCrop, a.Scale = true, [2]float64{}
			return nil
		}
		a.NoCrop = false
		a.Scale, err = parseRange(key, val, false)
	case "ratio":
		a.Ratio, err = parseRange(key, val, true)
	case "flip":
		a.HFlip, err = num()
	case "rotate":
		a.Rotation, err = num()
	case "brightness":
		a.Brightness, err = num()
	case "contrast":
		a.Contrast, err = num()
	case "saturation":
		a.Saturation, err = num()
	case "hue":
		a.Hue, err = num()
	case "jitter":
		if val == "" {
			return errors.New("jitter needs values (jitter=BRIGHTNESS/CONTRAST/SATURATION/HUE, e.g. jitter=0.4/0.4/0.4/0.1)")
		}
		parts := strings.Split(val, "/")
		if len(parts) > 4 {
			return fmt.Errorf("jitter=%s: at most 4 values (brightness/contrast/saturation/hue)", val)
		}
		dst := []*float64{&a.Brightness, &a.Contrast, &a.Saturation, &a.Hue}
		for i, p := range parts {
			v, perr := strconv.ParseFloat(strings.TrimSpace(p), 64)
			if perr != nil || math.IsNaN(v) || math.IsInf(v, 0) {
				return fmt.Errorf("jitter=%s: %q is not a number (jitter=BRIGHTNESS/CONTRAST/SATURATION/HUE)", val, p)
			}
			*dst[i] = v
		}
	default:
		msg := fmt.Sprintf("unknown key %q", key)
		// rotate is listed before ratio so that "rotation" suggests it.
		if s := sdk.Suggest(key, []string{"crop", "rotate", "ratio", "flip", "jitter", "brightness", "contrast", "saturation", "hue"}, 1); len(s) > 0 {
			msg += "; did you mean " + s[0] + "?"
		}
		return fmt.Errorf("%s (keys: %s; or the whole spec none or default)", msg, strings.Join(augmentKeys, ", "))
	}
	return err
}

// parseRange parses "LOW-HIGH"; with fractions, a bound may be "A/B".
func parseRange(key, val string, fractions bool) ([2]float64, error) {
	bad := fmt.Errorf("%s=%s: want a range LOW-HIGH (e.g. %s)", key, val, map[string]string{"crop": "crop=0.08-1", "ratio": "ratio=3/4-4/3"}[key])
	// The separator is the first '-' that is not a number's exponent sign.
	sep := -1
	for i := 1; i < len(val); i++ {
		if val[i] == '-' && val[i-1] != 'e' && val[i-1] != 'E' {
			sep = i
			break
		}
	}
	if sep < 0 {
		return [2]float64{}, bad
	}
	var r [2]float64
	for i, s := range []string{val[:sep], val[sep+1:]} {
		s = strings.TrimSpace(s)
		num, den, isFrac := strings.Cut(s, "/")
		v, err := strconv.ParseFloat(num, 64)
		if err != nil {
			return [2]float64{}, bad
		}
		if isFrac {
			if !fractions {
				return [2]float64{}, bad
			}
			d, err := strconv.ParseFloat(den, 64)
			if err != nil || d == 0 {
				return [2]float64{}, bad
			}
			v /= d
		}
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return [2]float64{}, bad
		}
		r[i] = v
	}
	return r, nil
}

func formatFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func formatRange(r [2]float64) string { return formatFloat(r[0]) + "-" + formatFloat(r[1]) }

// String returns the spec ParseAugment reads back to a, with every value
// spelled out (crop and ratio included when a crops at random), or "none".
func (a Augment) String() string {
	a = a.canonical()
	var items []string
	if !a.NoCrop {
		items = append(items, "crop="+formatRange(a.Scale), "ratio="+formatRange(a.Ratio))
	}
	if a.HFlip != 0 {
		items = append(items, "flip="+formatFloat(a.HFlip))
	}
	if a.Rotation != 0 {
		items = append(items, "rotate="+formatFloat(a.Rotation))
	}
	if a.Brightness != 0 || a.Contrast != 0 || a.Saturation != 0 || a.Hue != 0 {
		items = append(items, fmt.Sprintf("jitter=%s/%s/%s/%s", formatFloat(a.Brightness), formatFloat(a.Contrast), formatFloat(a.Saturation), formatFloat(a.Hue)))
	}
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ",")
}

// Sample draws the parameters for one w x h image with torchvision's
// procedures, driven by rng: RandomResizedCrop's ten tries of a uniform
// area fraction and log-uniform aspect ratio (rounded half to even, as
// Python's round), a uniform position for the first box that fits, and
// otherwise the centred fallback box clamped to the ratio range; then the
// flip (rng.Float64() < HFlip), the angle (uniform), and ColorJitter's
// order (rng.Perm(4)) and factors. Parts that are off draw nothing. The
// same rng state gives the same parameters; rng is not safe for concurrent
// use, so give each goroutine its own. Sample panics if a is invalid
// (Validate says why; ParseAugment's results are valid) or w or h < 1.
func (a Augment) Sample(rng *rand.Rand, w, h int) AugmentParams {
	if err := a.Validate(); err != nil {
		panic(err)
	}
	if w < 1 || h < 1 {
		panic(fmt.Sprintf("imageproc: Augment.Sample of a %dx%d image", w, h))
	}
	a = a.canonical()
	p := AugmentParams{Brightness: 1, Contrast: 1, Saturation: 1, JitterOrder: [4]int{0, 1, 2, 3}}
	if !a.NoCrop {
		p.CropX, p.CropY, p.CropW, p.CropH = randomResizedCrop(rng, w, h, a.Scale, a.Ratio)
	}
	if a.HFlip > 0 {
		p.Flip = rng.Float64() < a.HFlip
	}
	uniform := func(lo, hi float64) float64 { return lo + (hi-lo)*rng.Float64() }
	if a.Rotation > 0 {
		p.Angle = uniform(-a.Rotation, a.Rotation)
	}
	if a.Brightness > 0 || a.Contrast > 0 || a.Saturation > 0 || a.Hue > 0 {
		copy(p.JitterOrder[:], rng.Perm(4))
		if a.Brightness > 0 {
			p.Brightness = uniform(max(0, 1-a.Brightness), 1+a.Brightness)
		}
		if a.Contrast > 0 {
			p.Contrast = uniform(max(0, 1-a.Contrast), 1+a.Contrast)
		}
		if a.Saturation > 0 {
			p.Saturation = uniform(max(0, 1-a.Saturation), 1+a.Saturation)
		}
		if a.Hue > 0 {
			p.Hue = uniform(-a.Hue, a.Hue)
		}
	}
	return p
}

// randomResizedCrop is RandomResizedCrop.get_params: it returns the box's
// left, top, width and height.
func randomResizedCrop(rng *rand.Rand, width, height int, scale, ratio [2]float64) (x, y, w, h int) {
	area := float64(width * height)
	logLo, logHi := math.Log(ratio[0]), math.Log(ratio[1])
	for range 10 {
		target := area * (scale[0] + (scale[1]-scale[0])*rng.Float64())
		aspect := math.Exp(logLo + (logHi-logLo)*rng.Float64())
		fw := math.RoundToEven(math.Sqrt(target * aspect))
		fh := math.RoundToEven(math.Sqrt(target / aspect))
		if 0 < fw && fw <= float64(width) && 0 < fh && fh <= float64(height) {
			w, h := int(fw), int(fh)
			y := rng.Intn(height - h + 1)
			x := rng.Intn(width - w + 1)
			return x, y, w, h
		}
	}
	// Fallback: the whole image, or its centre clamped to the ratio range.
	inRatio := float64(width) / float64(height)
	switch {
	case inRatio < ratio[0]:
		w = width
		h = int(math.RoundToEven(float64(w) / ratio[0]))
	case inRatio > ratio[1]:
		h = height
		w = int(math.RoundToEven(float64(h) * ratio[1]))
	default:
		w, h = width, height
	}
	// A ratio range far from the image's rounds a side to 0, where
	// torchvision fails; keep one pixel.
	w, h = min(max(w, 1), width), min(max(h, 1), height)
	return (width - w) / 2, (height - h) / 2, w, h
}

// ApplyAugmented applies one draw of augmentations to img and writes the
// tensor to dst (len t.Len(), CHW float32), as torchvision's train
// pipeline on a PIL image: [Grayscale(3)] -> RandomResizedCrop (PIL's crop,
// zero outside the image, then Resize to CropH x CropW with t.Interp; a
// zero box takes t's Resize + CenterCrop instead) -> RandomHorizontalFlip
// -> RandomRotation (PIL's rotate: nearest, about the centre, same size,
// black fill) -> ColorJitter in p.JitterOrder (PIL's ImageEnhance blends
// and HSV hue shift, 8-bit as PIL rounds) -> ToTensor -> Normalize(t.Mean,
// t.Std). Pixels equal torchvision 0.14 with Pillow's. It is safe for
// concurrent use; img is not modified.
func (t Transform) ApplyAugmented(img *RGB, p AugmentParams, dst []float32) error {
	if err := t.check(img, dst); err != nil {
		return err
	}
	order, err := p.validate()
	if err != nil {
		return err
	}
	if t.Grayscale {
		img = gray3(img)
	}
	if p.CropW == 0 && p.CropH == 0 {
		resized, top, left, err := t.resizeCrop(img)
		if err != nil {
			return err
		}
		img = crop(resized, left, top, t.CropW, t.CropH)
	} else {
		if p.CropX >= img.W || p.CropY >= img.H || p.CropX+p.CropW <= 0 || p.CropY+p.CropH <= 0 {
			return fmt.Errorf("imageproc: crop box %dx%d at (%d, %d) lies outside the %dx%d image", p.CropW, p.CropH, p.CropX, p.CropY, img.W, img.H)
		}
		img = Resize(crop(img, p.CropX, p.CropY, p.CropW, p.CropH), t.CropW, t.CropH, t.Interp)
	}
	if p.Flip {
		img = hflip(img)
	}
	img = rotate(img, p.Angle)
	for _, op := range order {
		switch op {
		case 0:
			img = adjustBrightness(img, p.Brightness)
		case 1:
			img = adjustContrast(img, p.Contrast)
		case 2:
			img = adjustSaturation(img, p.Saturation)
		case 3:
			img = adjustHue(img, p.Hue)
		}
	}
	t.normalize(img, 0, 0, dst)
	return nil
}

// validate checks p's values and returns the jitter order to use.
func (p AugmentParams) validate() ([4]int, error) {
	if p.CropW < 0 || p.CropH < 0 || (p.CropW == 0) != (p.CropH == 0) {
		return [4]int{}, fmt.Errorf("imageproc: crop box %dx%d: width and height must both be positive (or both 0 for Resize+CenterCrop)", p.CropW, p.CropH)
	}
	if int64(p.CropW)*int64(p.CropH) > MaxPixels {
		return [4]int{}, fmt.Errorf("%w: crop box %dx%d", ErrTooLarge, p.CropW, p.CropH)
	}
	if math.IsNaN(p.Angle) || math.IsInf(p.Angle, 0) {
		return [4]int{}, fmt.Errorf("imageproc: rotation angle %v is not a finite number", p.Angle)
	}
	for _, f := range []struct {
		name string
		v    float64
	}{{"brightness", p.Brightness}, {"contrast", p.Contrast}, {"saturation", p.Saturation}} {
		if !(f.v >= 0) || math.IsInf(f.v, 0) {
			return [4]int{}, fmt.Errorf("imageproc: %s factor %v: must be a non-negative number (1 is the identity)", f.name, f.v)
		}
	}
	if !(p.Hue >= -0.5 && p.Hue <= 0.5) {
		return [4]int{}, fmt.Errorf("imageproc: hue factor %v: must be in [-0.5, 0.5] (0 is the identity)", p.Hue)
	}
	if p.JitterOrder == [4]int{} {
		return [4]int{0, 1, 2, 3}, nil
	}
	var seen [4]bool
	for _, v := range p.JitterOrder {
		if v < 0 || v > 3 || seen[v] {
			return [4]int{}, fmt.Errorf("imageproc: jitter order %v: must be a permutation of 0, 1, 2, 3", p.JitterOrder)
		}
		seen[v] = true
	}
	return p.JitterOrder, nil
}

// crop is PIL's Image.crop((x, y, x+w, y+h)): pixels outside img are zero.
func crop(img *RGB, x, y, w, h int) *RGB {
	if x == 0 && y == 0 && w == img.W && h == img.H {
		return img
	}
	out := NewRGB(w, h)
	x0, x1 := max(x, 0), min(x+w, img.W)
	if x0 >= x1 {
		return out
	}
	for yy := max(y, 0); yy < min(y+h, img.H); yy++ {
		copy(out.Pix[3*((yy-y)*w+x0-x):], img.Pix[3*(yy*img.W+x0):3*(yy*img.W+x1)])
	}
	return out
}

// hflip is PIL's transpose(FLIP_LEFT_RIGHT).
func hflip(img *RGB) *RGB {
	out := NewRGB(img.W, img.H)
	for y := 0; y < img.H; y++ {
		in, o := img.Pix[3*y*img.W:], out.Pix[3*y*img.W:]
		for x, xr := 0, img.W-1; x < img.W; x, xr = x+1, xr-1 {
			copy(o[3*xr:3*xr+3], in[3*x:3*x+3])
		}
	}
	return out
}

// degToRad is CPython's math.radians factor: the double nearest pi
// divided by 180 in double arithmetic (math.Pi/180 as an untyped constant
// would round only once and can differ in the last bit).
var degToRad = float64(math.Pi) / 180

// rotate is PIL's Image.rotate(angle) with NEAREST, expand=False, the
// default centre and fill 0, which torchvision's rotate calls: transposes
// for multiples of 90 degrees where the size allows, otherwise the inverse
// affine map (coefficients rounded to 15 decimals as Python's round) in
// PIL's 16.16 fixed point.
func rotate(img *RGB, angle float64) *RGB {
	// Python's angle % 360.0: the result takes the divisor's sign.
	angle = math.Mod(angle, 360)
	if angle < 0 {
		angle += 360
	}
	switch {
	case angle == 0:
		return img
	case angle == 180:
		return transpose(img, 180)
	case (angle == 90 || angle == 270) && img.W == img.H:
		return transpose(img, int(angle))
	}
	w, h := img.W, img.H
	cx, cy := float64(w)/2, float64(h)/2
	r := -(angle * degToRad)
	cos, sin := round15(math.Cos(r)), round15(math.Sin(r))
	m := [6]float64{cos, sin, 0, round15(-math.Sin(r)), cos, 0}
	// matrix[2], matrix[5] = transform(-cx, -cy): products kept apart so
	// that no fused multiply-add changes the rounding.
	m[2] = float64(m[0]*-cx) + float64(m[1]*-cy) + m[2]
	m[5] = float64(m[3]*-cx) + float64(m[4]*-cy) + m[5]
	m[2] += cx
	m[5] += cy
	out := NewRGB(w, h)
	fits := func(x, y float64) bool {
		return math.Abs(float64(x*m[0])+float64(y*m[1])+m[2]) < 32768 &&
			math.Abs(float64(x*m[3])+float64(y*m[4])+m[5]) < 32768
	}
	fw, fh := float64(w), float64(h)
	if fits(0, 0) && fits(fw, fh) && fits(0, fh) && fits(fw, 0) {
		affineFixed(out, img, m)
	} else {
		affineFloat(out, img, m)
	}
	return out
}

// round15 is Python's round(v, 15), correctly rounded through decimal.
func round15(v float64) float64 {
	r, _ := strconv.ParseFloat(strconv.FormatFloat(v, 'f', 15, 64), 64)
	return r
}

// affineFixed is PIL's affine_fixed: nearest neighbour with the map in
// 16.16 fixed point, sampling at pixel centres.
func affineFixed(out, in *RGB, m [6]float64) {
	fix := func(v float64) int32 { return int32(math.Floor(v*65536 + 0.5)) }
	a0, a1, a3, a4 := fix(m[0]), fix(m[1]), fix(m[3]), fix(m[4])
	a2 := fix(m[2] + float64(m[0]*0.5) + float64(m[1]*0.5))
	a5 := fix(m[5] + float64(m[3]*0.5) + float64(m[4]*0.5))
	for y := 0; y < out.H; y++ {
		xx, yy := a2, a5
		o := out.Pix[3*y*out.W:]
		for x := 0; x < out.W; x++ {
			xin, yin := int(xx>>16), int(yy>>16)
			if xin >= 0 && xin < in.W && yin >= 0 && yin < in.H {
				copy(o[3*x:3*x+3], in.Pix[3*(yin*in.W+xin):])
			}
			xx += a0
			yy += a3
		}
		a2 += a1
		a5 += a4
	}
}

// affineFloat is PIL's floating-point nearest-neighbour affine loop, used
// when a corner maps beyond the fixed-point range.
func affineFloat(out, in *RGB, m [6]float64) {
	coord := func(v float64) int {
		if v < 0 {
			return -1
		}
		return int(v)
	}
	xo := m[2] + float64(m[1]*0.5) + float64(m[0]*0.5)
	yo := m[5] + float64(m[4]*0.5) + float64(m[3]*0.5)
	for y := 0; y < out.H; y++ {
		xx, yy := xo, yo
		o := out.Pix[3*y*out.W:]
		for x := 0; x < out.W; x++ {
			xin, yin := coord(xx), coord(yy)
			if xin >= 0 && xin < in.W && yin >= 0 && yin < in.H {
				copy(o[3*x:3*x+3], in.Pix[3*(yin*in.W+xin):])
			}
			xx += m[0]
			yy += m[3]
		}
		xo += m[1]
		yo += m[4]
	}
}

// transpose is PIL's ROTATE_90, ROTATE_180 or ROTATE_270 (counter-clockwise).
func transpose(img *RGB, deg int) *RGB {
	w, h := img.W, img.H
	var out *RGB
	if deg == 180 {
		out = NewRGB(w, h)
	} else {
		out = NewRGB(h, w)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var ox, oy int
			switch deg {
			case 90:
				ox, oy = y, w-1-x
			case 180:
				ox, oy = w-1-x, h-1-y
			default:
				ox, oy = h-1-y, x
			}
			copy(out.Pix[3*(oy*out.W+ox):3*(oy*out.W+ox)+3], img.Pix[3*(y*w+x):])
		}
	}
	return out
}

// blendConst is PIL's Image.blend(degenerate, img, factor) with a
// degenerate image of one value per channel (Brightness: 0; Contrast: the
// rounded mean grey).
func blendConst(img *RGB, deg uint8, factor float64) *RGB {
	alpha := float32(factor)
	if alpha == 1 {
		return img
	}
	var lut [256]uint8
	for v := range lut {
		lut[v] = blend8(deg, uint8(v), alpha)
	}
	out := NewRGB(img.W, img.H)
	for i, v := range img.Pix {
		out.Pix[i] = lut[v]
	}
	return out
}

// blend8 is one byte of PIL's ImagingBlend: in1 + alpha*(in2-in1) in
// float32, truncated, clipped to [0, 255] when alpha is outside [0, 1].
func blend8(in1, in2 uint8, alpha float32) uint8 {
	if alpha == 0 {
		return in1
	}
	if alpha == 1 {
		return in2
	}
	v := float32(in1) + float32(alpha*float32(int(in2)-int(in1)))
	if alpha >= 0 && alpha <= 1 {
		return uint8(v)
	}
	switch {
	case v <= 0:
		return 0
	case v >= 255:
		return 255
	}
	return uint8(v)
}

// adjustBrightness is ImageEnhance.Brightness(img).enhance(factor).
func adjustBrightness(img *RGB, factor float64) *RGB { return blendConst(img, 0, factor) }

// adjustContrast is ImageEnhance.Contrast(img).enhance(factor): the
// degenerate image is the mean of img.convert("L"), rounded half up.
func adjustContrast(img *RGB, factor float64) *RGB {
	if float32(factor) == 1 {
		return img
	}
	var sum uint64
	for i := 0; i < len(img.Pix); i += 3 {
		sum += uint64(luma(img.Pix[i], img.Pix[i+1], img.Pix[i+2]))
	}
	mean := float64(sum) / float64(img.W*img.H)
	return blendConst(img, uint8(int(mean+0.5)), factor)
}

// adjustSaturation is ImageEnhance.Color(img).enhance(factor): a blend
// with img.convert("L").convert("RGB").
func adjustSaturation(img *RGB, factor float64) *RGB {
	alpha := float32(factor)
	if alpha == 1 {
		return img
	}
	out := NewRGB(img.W, img.H)
	for i := 0; i < len(img.Pix); i += 3 {
		l := luma(img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		for c := 0; c < 3; c++ {
			out.Pix[i+c] = blend8(l, img.Pix[i+c], alpha)
		}
	}
	return out
}

// luma is PIL's RGB to "L" conversion (ITU-R 601-2 in 16-bit fixed point).
func luma(r, g, b uint8) uint8 {
	return uint8((19595*uint32(r) + 38470*uint32(g) + 7471*uint32(b) + 0x8000) >> 16)
}

// adjustHue is torchvision's PIL adjust_hue: convert("HSV"), add
// np.uint8(factor*255) to H with 8-bit wrap-around, convert back to RGB.
func adjustHue(img *RGB, factor float64) *RGB {
	if factor == 0 {
		return img
	}
	// np.uint8 of a float truncates toward zero and wraps modulo 256.
	delta := uint8(int(factor * 255))
	out := NewRGB(img.W, img.H)
	for i := 0; i < len(img.Pix); i += 3 {
		h, s, v := rgbToHSV(img.Pix[i], img.Pix[i+1], img.Pix[i+2])
		out.Pix[i], out.Pix[i+1], out.Pix[i+2] = hsvToRGB(h+delta, s, v)
	}
	return out
}

// rgbToHSV is PIL's rgb2hsv for one pixel (colorsys's formulas with PIL's
// mix of float and double arithmetic and truncation to 8 bits).
func rgbToHSV(r, g, b uint8) (uint8, uint8, uint8) {
	maxc, minc := max(r, g, b), min(r, g, b)
	if maxc == minc {
		return 0, 0, maxc
	}
	cr := float32(maxc - minc)
	s := cr / float32(maxc)
	rc := float32(maxc-r) / cr
	gc := float32(maxc-g) / cr
	bc := float32(maxc-b) / cr
	var h float32
	switch {
	case r == maxc:
		h = bc - gc
	case g == maxc:
		h = float32(2.0 + float64(rc) - float64(bc))
	default:
		h = float32(4.0 + float64(gc) - float64(rc))
	}
	// fmod(h/6 + 1, 1): h is in [-1, 5], so the sum is in [5/6, 11/6) and
	// subtracting 1 from it when it is >= 1 is exact, as fmod is.
	hh := float64(h)/6.0 + 1.0
	if hh >= 1 {
		hh--
	}
	h = float32(hh)
	return clip8(int(float64(h) * 255.0)), clip8(int(float64(s) * 255.0)), maxc
}

// hsvToRGB is PIL's hsv2rgb for one pixel.
func hsvToRGB(h, s, v uint8) (uint8, uint8, uint8) {
	if s == 0 {
		return v, v, v
	}
	hh := float64(float32(h)) * 6.0 / 255.0
	i := int(math.Floor(hh))
	f := float32(hh - float64(i))
	fs := float32(float64(s) / 255.0)
	fv := float64(v)
	p := clip8(int(math.Round(fv * (1.0 - float64(fs)))))
	q := clip8(int(math.Round(fv * (1.0 - float64(fs*f)))))
	t := clip8(int(math.Round(fv * (1.0 - float64(fs)*(1.0-float64(f))))))
	switch i % 6 {
	case 0:
		return v, t, p
	case 1:
		return q, v, p
	case 2:
		return p, v, t
	case 3:
		return p, q, v
	case 4:
		return t, p, v
	}
	return v, p, q
}
