package imageproc_test

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

// photos are the repository's demo photos (320x213, 320x214 and 320x320;
// camera.png is grayscale).
const photos = "../../scripts/demo/images/photos"

// augCase is one fixed-parameter case of make_augment.py.
type augCase struct {
	Name      string  `json:"name"`
	Op        string  `json:"-"` // the summary row it counts in
	Image     string  `json:"image"`
	Size      [2]int  `json:"size"` // H, W
	Interp    string  `json:"interp"`
	Grayscale bool    `json:"grayscale"`
	Resize    int     `json:"resize"`
	Crop      *[4]int `json:"crop"` // top, left, height, width; nil: Resize + CenterCrop
	Flip      bool    `json:"flip"`
	Angle     float64 `json:"angle"`
	B         float64 `json:"brightness"`
	C         float64 `json:"contrast"`
	S         float64 `json:"saturation"`
	H         float64 `json:"hue"`
	Order     [4]int  `json:"order"`
	p         imageproc.AugmentParams
	tf        imageproc.Transform
}

// seededCase runs torchvision's transform classes after torch.manual_seed.
type seededCase struct {
	Name   string     `json:"name"`
	Image  string     `json:"image"`
	Seed   int        `json:"seed"`
	Size   int        `json:"size"`
	Interp string     `json:"interp"`
	Scale  [2]float64 `json:"scale"`
	Ratio  [2]float64 `json:"ratio"`
	Flip   float64    `json:"flip"`
	Rotate float64    `json:"rotate"`
	Jitter [4]float64 `json:"jitter"`
}

// drawn is what the transform classes drew for a seeded case.
type drawn struct {
	Crop   [4]int  `json:"crop"` // top, left, height, width
	Flip   bool    `json:"flip"`
	Angle  float64 `json:"angle"`
	Jitter struct {
		Order   [4]int     `json:"order"`
		Factors [4]float64 `json:"factors"`
	} `json:"jitter"`
}

// fixedCases lists every operation alone, with edge cases, and combined.
// Cases "alone" crop a box whose size is the output size, so that the
// resize is the identity and only the operation under test changes pixels.
func fixedCases(t *testing.T, colors string) []augCase {
	t.Helper()
	photo := func(name string) string {
		p, err := filepath.Abs(filepath.Join(photos, name))
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	chelsea, coffee, rocket, astronaut, camera := photo("chelsea.jpg"), photo("coffee.jpg"), photo("rocket.jpg"), photo("astronaut.jpg"), photo("camera.png")
	id := func(name, op, img string, x, y, w, h int) augCase {
		return augCase{Name: name, Op: op, Image: img, Size: [2]int{h, w}, Interp: "bilinear", Crop: &[4]int{y, x, h, w},
			B: 1, C: 1, S: 1, Order: [4]int{0, 1, 2, 3}}
	}
	resized := func(name, op, img string, x, y, w, h, outW, outH int, interp string) augCase {
		c := id(name, op, img, x, y, w, h)
		c.Size, c.Interp = [2]int{outH, outW}, interp
		return c
	}
	var cs []augCase
	add := func(c augCase, edit func(*augCase)) {
		if edit != nil {
			edit(&c)
		}
		cs = append(cs, c)
	}
	// RandomResizedCrop: inside, touching every border, touching right and
	// bottom, a tiny corner box upscaled, portrait boxes and outputs, each
	// filter, and the eval geometry (Resize + CenterCrop).
	add(resized("crop-inner", "crop", chelsea, 40, 30, 150, 120, 224, 224, "bilinear"), nil)
	add(resized("crop-whole", "crop", chelsea, 0, 0, 320, 213, 224, 224, "bilinear"), nil)
	add(resized("crop-bottom-right", "crop", coffee, 170, 63, 150, 150, 112, 112, "bicubic"), nil)
	add(resized("crop-tiny-corner", "crop", rocket, 0, 0, 9, 13, 64, 48, "bilinear"), nil)
	add(resized("crop-portrait", "crop", rocket, 100, 0, 120, 214, 96, 160, "bicubic"), nil)
	add(resized("crop-nearest", "crop", astronaut, 10, 10, 300, 290, 128, 128, "nearest"), nil)
	add(augCase{Name: "crop-eval", Op: "crop", Image: chelsea, Size: [2]int{224, 224}, Interp: "bilinear", Resize: 256, B: 1, C: 1, S: 1, Order: [4]int{0, 1, 2, 3}}, nil)
	add(augCase{Name: "crop-eval-small", Op: "crop", Image: rocket, Size: [2]int{96, 128}, Interp: "bicubic", Resize: 100, B: 1, C: 1, S: 1, Order: [4]int{0, 1, 2, 3}}, nil)
	// RandomHorizontalFlip.
	add(id("flip-whole", "flip", chelsea, 0, 0, 320, 213), func(c *augCase) { c.Flip = true })
	add(resized("flip-resized", "flip", coffee, 30, 20, 180, 180, 224, 224, "bilinear"), func(c *augCase) { c.Flip = true })
	// RandomRotation: the transposes (square 90, 180, 270), the affine map
	// (non-square 90 and 270, other angles), 0, and +-15.
	for _, a := range []float64{0, 15, -15, 90, -90, 180, 33.3, -7.25, 359.5} {
		add(id(fmt.Sprintf("rotate%+g", a), "rotate", chelsea, 20, 10, 200, 160), func(c *augCase) { c.Angle = a })
	}
	for _, a := range []float64{90, -90, 45, 12.5} {
		add(id(fmt.Sprintf("rotate-square%+g", a), "rotate", astronaut, 60, 40, 192, 192), func(c *augCase) { c.Angle = a })
	}
	// ColorJitter, one adjustment at a time, including the degenerate
	// factor 0 and extrapolation above 1.
	for _, f := range []float64{0, 0.5, 0.75, 1, 1.3, 1.6} {
		add(id(fmt.Sprintf("brightness%g", f), "brightness", coffee, 20, 10, 200, 160), func(c *augCase) { c.B = f })
	}
	for _, f := range []float64{0, 0.6, 1.4, 2} {
		add(id(fmt.Sprintf("contrast%g", f), "contrast", chelsea, 20, 10, 200, 160), func(c *augCase) { c.C = f })
	}
	// This box's grey mean is 106.95: PIL's rounding of it shows.
	for _, f := range []float64{0.6, 1.4} {
		add(id(fmt.Sprintf("contrast-coffee%g", f), "contrast", coffee, 20, 10, 200, 160), func(c *augCase) { c.C = f })
	}
	for _, f := range []float64{0, 0.6, 1.4, 2} {
		add(id(fmt.Sprintf("saturation%g", f), "saturation", coffee, 20, 10, 200, 160), func(c *augCase) { c.S = f })
	}
	for _, f := range []float64{0.5, -0.5, 0.1, -0.1, 0.25, -0.004} {
		add(id(fmt.Sprintf("hue%+g", f), "hue", chelsea, 20, 10, 200, 160), func(c *augCase) { c.H = f })
		add(id(fmt.Sprintf("hue-colors%+g", f), "hue", colors, 0, 0, 256, 256), func(c *augCase) { c.H = f })
	}
	// The whole pipeline, in several orders.
	add(resized("all-chelsea", "all", chelsea, 31, 17, 201, 170, 224, 224, "bilinear"), func(c *augCase) {
		c.Flip, c.Angle, c.B, c.C, c.S, c.H, c.Order = true, 12.3, 1.25, 0.7, 1.33, 0.08, [4]int{3, 0, 2, 1}
	})
	add(resized("all-coffee", "all", coffee, 0, 40, 320, 173, 224, 224, "bicubic"), func(c *augCase) {
		c.Angle, c.B, c.C, c.S, c.H, c.Order = -15, 0.65, 1.38, 0.62, -0.1, [4]int{1, 3, 0, 2}
	})
	add(resized("all-rocket-portrait", "all", rocket, 150, 0, 100, 214, 120, 160, "bilinear"), func(c *augCase) {
		c.Flip, c.Angle, c.B, c.C, c.S, c.H, c.Order = true, 90, 0.9, 1.1, 0, 0.5, [4]int{2, 1, 3, 0}
	})
	add(resized("all-camera-gray", "all", camera, 12, 20, 250, 260, 160, 160, "bilinear"), func(c *augCase) {
		c.Grayscale, c.Flip, c.Angle, c.B, c.C, c.S, c.H, c.Order = true, true, -3.7, 1.2, 0.8, 1.4, 0.3, [4]int{0, 3, 1, 2}
	})
	add(augCase{Name: "all-eval", Op: "all", Image: astronaut, Size: [2]int{224, 224}, Interp: "bilinear", Resize: 256}, func(c *augCase) {
		c.Flip, c.Angle, c.B, c.C, c.S, c.H, c.Order = true, 7, 1.1, 0.9, 1.2, -0.05, [4]int{3, 2, 1, 0}
	})
	for i := range cs {
		c := &cs[i]
		c.tf = imageproc.ImageNet()
		c.tf.ResizeSize, c.tf.CropH, c.tf.CropW, c.tf.Grayscale = c.Resize, c.Size[0], c.Size[1], c.Grayscale
		var err error
		if c.tf.Interp, err = imageproc.ParseInterpolation(c.Interp); err != nil {
			t.Fatal(err)
		}
		c.p = imageproc.AugmentParams{Flip: c.Flip, Angle: c.Angle, Brightness: c.B, Contrast: c.C, Saturation: c.S, Hue: c.H, JitterOrder: c.Order}
		if c.Crop != nil {
			c.p.CropY, c.p.CropX, c.p.CropH, c.p.CropW = c.Crop[0], c.Crop[1], c.Crop[2], c.Crop[3]
		}
	}
	return cs
}

// writeColors writes a 256x256 PNG of seeded random colours, so that the
// hue and saturation cases see the whole RGB cube, not only a photo's.
func writeColors(t *testing.T, path string) {
	t.Helper()
	rng := rand.New(rand.NewSource(7))
	img := image.NewNRGBA(image.Rect(0, 0, 256, 256))
	for i := 0; i < 256*256; i++ {
		v := rng.Uint32()
		// Every 16th pixel grey, to cover the saturation-0 branch.
		g := uint8(v >> 24)
		c := color.NRGBA{uint8(v), uint8(v >> 8), uint8(v >> 16), 255}
		if i%16 == 0 {
			c = color.NRGBA{g, g, g, 255}
		}
		img.SetNRGBA(i%256, i/256, c)
	}
	f, err := os.Create(path)
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

// augResult is one case's comparison.
type augResult struct {
	op           string
	mean, max    float64
	differ, size int // values that differ at all, of size
}

// TestAugmentTorchvision applies the same augmentation parameters in Go
// and with torchvision (make_augment.py) to real photos and compares the
// normalized tensors: every operation alone and the whole pipeline, with
// fixed parameters, then with what torchvision's own transform classes
// drew for a few seeds. Each case's mean |diff| must be <= 0.005 and its
// max <= 0.05 (one 8-bit level is 0.017 after Normalize).
func TestAugmentTorchvision(t *testing.T) {
	testenv.Python(t)
	dir := t.TempDir()
	colors := filepath.Join(dir, "colors.png")
	writeColors(t, colors)
	fixed := fixedCases(t, colors)
	var seeded []seededCase
	for i, name := range []string{"chelsea.jpg", "rocket.jpg", "astronaut.jpg", "coffee.jpg", "camera.png", "chelsea.jpg"} {
		img, err := filepath.Abs(filepath.Join(photos, name))
		if err != nil {
			t.Fatal(err)
		}
		c := seededCase{Name: fmt.Sprintf("seeded%d", i), Image: img, Seed: 100 + i, Size: 224, Interp: "bilinear",
			Scale: [2]float64{0.08, 1}, Ratio: [2]float64{3.0 / 4, 4.0 / 3}, Flip: 0.5, Rotate: 15, Jitter: [4]float64{0.4, 0.4, 0.4, 0.1}}
		if i%2 == 1 {
			c.Size, c.Interp, c.Rotate, c.Jitter = 128, "bicubic", 30, [4]float64{0.8, 0, 0.5, 0.5}
		}
		seeded = append(seeded, c)
	}
	b, err := json.Marshal(map[string]any{"mean": imageproc.ImageNetMean, "std": imageproc.ImageNetStd, "fixed": fixed, "seeded": seeded})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cases.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.RunPython(t, "testdata/make_augment.py", dir)

	var results []augResult
	compare := func(t *testing.T, name, op, path string, tf imageproc.Transform, p imageproc.AugmentParams) {
		t.Helper()
		img, err := imageproc.DecodeFile(path)
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, tf.Len())
		if err := tf.ApplyAugmented(img, p, got); err != nil {
			t.Fatalf("ApplyAugmented(%s, %+v): %v", filepath.Base(path), p, err)
		}
		want, err := npy.ReadFile(filepath.Join(dir, name+".npy"))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(want.Shape, []int64{3, int64(tf.CropH), int64(tf.CropW)}) {
			t.Fatalf("torchvision's output has shape %v; want [3 %d %d]", want.Shape, tf.CropH, tf.CropW)
		}
		mean, mx := diff(got, want.Float32)
		r := augResult{op: op, mean: mean, max: mx, size: len(got)}
		for i := range got {
			if got[i] != want.Float32[i] {
				r.differ++
			}
		}
		results = append(results, r)
		t.Logf("%-22s mean |ours - torchvision| %.6f  max %.4f", name, mean, mx)
		if mean > 0.005 || mx > 0.05 {
			t.Errorf("ApplyAugmented(%s, %+v): mean |diff| %.5f (want <= 0.005), max %.4f (want <= 0.05)", filepath.Base(path), p, mean, mx)
		}
	}
	for _, c := range fixed {
		t.Run(c.Name, func(t *testing.T) { compare(t, c.Name, c.Op, c.Image, c.tf, c.p) })
	}
	b, err = os.ReadFile(filepath.Join(dir, "seeded.json"))
	if err != nil {
		t.Fatal(err)
	}
	var draws map[string]drawn
	if err := json.Unmarshal(b, &draws); err != nil {
		t.Fatal(err)
	}
	for _, c := range seeded {
		t.Run(c.Name, func(t *testing.T) {
			d, ok := draws[c.Name]
			if !ok {
				t.Fatalf("seeded.json has no draw for %s", c.Name)
			}
			tf := imageproc.ImageNet()
			tf.ResizeSize, tf.CropH, tf.CropW = 0, c.Size, c.Size
			if tf.Interp, err = imageproc.ParseInterpolation(c.Interp); err != nil {
				t.Fatal(err)
			}
			f := d.Jitter.Factors
			p := imageproc.AugmentParams{CropY: d.Crop[0], CropX: d.Crop[1], CropH: d.Crop[2], CropW: d.Crop[3],
				Flip: d.Flip, Angle: d.Angle, Brightness: f[0], Contrast: f[1], Saturation: f[2], Hue: f[3], JitterOrder: d.Jitter.Order}
			t.Logf("torchvision drew %+v", p)
			compare(t, c.Name, "seeded", c.Image, tf, p)
		})
	}

	// One line per operation: the worst case's mean and the largest
	// single difference.
	byOp := map[string]*augResult{}
	count := map[string]int{}
	for _, r := range results {
		s := byOp[r.op]
		if s == nil {
			s = &augResult{op: r.op}
			byOp[r.op] = s
		}
		s.mean, s.max = math.Max(s.mean, r.mean), math.Max(s.max, r.max)
		s.differ, s.size = s.differ+r.differ, s.size+r.size
		count[r.op]++
	}
	ops := make([]string, 0, len(byOp))
	for op := range byOp {
		ops = append(ops, op)
	}
	sort.Strings(ops)
	var sb strings.Builder
	for _, op := range ops {
		s := byOp[op]
		fmt.Fprintf(&sb, "\n  %-10s %2d cases  worst mean |diff| %.6f  max |diff| %.4f  values differing %d of %d", op, count[op], s.mean, s.max, s.differ, s.size)
	}
	t.Logf("ApplyAugmented vs torchvision 0.14 (after Normalize):%s", sb.String())
}

// TestAugmentSample checks Sample's draws: boxes inside the image, area
// and aspect within range (up to Python's rounding), torchvision's
// fallback box, the flip rate, angle and factor ranges, permutations, and
// the same draws for the same seed.
func TestAugmentSample(t *testing.T) {
	const n = 4000
	cases := []struct {
		name     string
		a        imageproc.Augment
		w, h     int
		fallback *[4]int // X, Y, W, H every draw must equal
	}{
		{"default", imageproc.DefaultAugment(), 640, 480, nil},
		{"narrow-ranges", imageproc.Augment{Scale: [2]float64{0.25, 0.5}, Ratio: [2]float64{0.5, 2}, HFlip: 0.3}, 800, 600, nil},
		{"everything", imageproc.Augment{HFlip: 0.9, Rotation: 30, Brightness: 0.4, Contrast: 1.5, Saturation: 0.2, Hue: 0.5}, 224, 300, nil},
		{"jitter-only", imageproc.Augment{NoCrop: true, Hue: 0.1}, 50, 60, nil},
		{"wide-fallback", imageproc.DefaultAugment(), 1000, 50, &[4]int{466, 0, 67, 50}},
		{"tall-fallback", imageproc.DefaultAugment(), 50, 1000, &[4]int{0, 466, 50, 67}},
		{"tiny", imageproc.DefaultAugment(), 1, 1, &[4]int{0, 0, 1, 1}},
		{"extreme-ratio", imageproc.Augment{Ratio: [2]float64{100, 200}}, 50, 60, &[4]int{0, 29, 50, 1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := c.a
			if a.Scale == [2]float64{} {
				a.Scale = [2]float64{0.08, 1}
			}
			if a.Ratio == [2]float64{} {
				a.Ratio = [2]float64{3.0 / 4, 4.0 / 3}
			}
			rng := rand.New(rand.NewSource(1))
			flips, minArea, maxArea, angleSum := 0, 2.0, 0.0, 0.0
			for i := 0; i < n; i++ {
				p := c.a.Sample(rng, c.w, c.h)
				if c.a.NoCrop {
					if p.CropW != 0 || p.CropH != 0 {
						t.Fatalf("Sample = %+v; want a zero box with NoCrop", p)
					}
				} else {
					box := [4]int{p.CropX, p.CropY, p.CropW, p.CropH}
					if p.CropW < 1 || p.CropH < 1 || p.CropX < 0 || p.CropY < 0 || p.CropX+p.CropW > c.w || p.CropY+p.CropH > c.h {
						t.Fatalf("Sample(%dx%d) box %v lies outside the image", c.w, c.h, box)
					}
					if c.fallback != nil && box != *c.fallback {
						t.Fatalf("Sample(%dx%d) box %v; want torchvision's fallback %v", c.w, c.h, box, *c.fallback)
					}
					if c.fallback == nil {
						// w = round(sqrt(A r)), h = round(sqrt(A / r)): the
						// unrounded sides are within 0.5 of the box's.
						fw, fh, area := float64(p.CropW), float64(p.CropH), float64(c.w*c.h)
						if (fw-0.5)*(fh-0.5) > a.Scale[1]*area || (fw+0.5)*(fh+0.5) < a.Scale[0]*area ||
							(fw-0.5)/(fh+0.5) > a.Ratio[1] || (fw+0.5)/(fh-0.5) < a.Ratio[0] {
							t.Fatalf("Sample(%dx%d) box %v: area %.3f or aspect %.3f outside %v, %v", c.w, c.h, box, fw*fh/area, fw/fh, a.Scale, a.Ratio)
						}
						minArea, maxArea = math.Min(minArea, fw*fh/area), math.Max(maxArea, fw*fh/area)
					}
				}
				if p.Flip {
					flips++
				}
				if math.Abs(p.Angle) > c.a.Rotation {
					t.Fatalf("Sample angle %v; want within ±%v", p.Angle, c.a.Rotation)
				}
				angleSum += p.Angle
				for _, f := range []struct {
					v, d float64
				}{{p.Brightness, c.a.Brightness}, {p.Contrast, c.a.Contrast}, {p.Saturation, c.a.Saturation}} {
					if f.v < math.Max(0, 1-f.d) || f.v > 1+f.d {
						t.Fatalf("Sample factor %v; want within [max(0, 1-%v), 1+%v]", f.v, f.d, f.d)
					}
				}
				if math.Abs(p.Hue) > c.a.Hue {
					t.Fatalf("Sample hue %v; want within ±%v", p.Hue, c.a.Hue)
				}
				order := append([]int(nil), p.JitterOrder[:]...)
				sort.Ints(order)
				if !reflect.DeepEqual(order, []int{0, 1, 2, 3}) {
					t.Fatalf("Sample jitter order %v is not a permutation of 0..3", p.JitterOrder)
				}
			}
			rate, sd := float64(flips)/n, math.Sqrt(c.a.HFlip*(1-c.a.HFlip)/n)
			if math.Abs(rate-c.a.HFlip) > 4*sd+1e-9 {
				t.Errorf("flip rate %.4f over %d draws; want %.2f ± %.4f", rate, n, c.a.HFlip, 4*sd)
			}
			if mean, sd := angleSum/n, c.a.Rotation/math.Sqrt(3*n); math.Abs(mean) > 4*sd+1e-9 {
				t.Errorf("mean angle %.3f; want 0 ± %.3f", mean, 4*sd)
			}
			if !c.a.NoCrop && c.fallback == nil {
				span := a.Scale[1] - a.Scale[0]
				if minArea > a.Scale[0]+0.05*span || maxArea < a.Scale[1]-0.2*span {
					t.Errorf("area fractions span [%.3f, %.3f]; want close to %v", minArea, maxArea, a.Scale)
				}
			}
			t.Logf("%dx%d: flip rate %.3f, area fraction in [%.3f, %.3f]", c.w, c.h, rate, minArea, maxArea)
		})
	}
}

func TestAugmentSampleDeterministic(t *testing.T) {
	a, err := imageproc.ParseAugment("crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1")
	if err != nil {
		t.Fatal(err)
	}
	draws := func(seed int64) []imageproc.AugmentParams {
		rng := rand.New(rand.NewSource(seed))
		var ps []imageproc.AugmentParams
		for i := 0; i < 50; i++ {
			ps = append(ps, a.Sample(rng, 320, 213))
		}
		return ps
	}
	if x, y := draws(3), draws(3); !reflect.DeepEqual(x, y) {
		t.Errorf("Sample with seed 3 twice: draws differ:\n%+v\n%+v", x[0], y[0])
	}
	if x, y := draws(3), draws(4); reflect.DeepEqual(x, y) {
		t.Errorf("Sample with seeds 3 and 4: the same draws")
	}
}

func TestParseAugment(t *testing.T) {
	scale, ratio := [2]float64{0.08, 1}, [2]float64{3.0 / 4, 4.0 / 3}
	valid := []struct {
		spec string
		want imageproc.Augment
	}{
		{"none", imageproc.Augment{NoCrop: true}},
		{" None ", imageproc.Augment{NoCrop: true}},
		{"default", imageproc.DefaultAugment()},
		{"crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1",
			imageproc.Augment{Scale: scale, Ratio: ratio, HFlip: 0.5, Rotation: 15, Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}},
		{"crop", imageproc.Augment{Scale: scale, Ratio: ratio}},
		{"flip", imageproc.Augment{NoCrop: true, HFlip: 0.5}},
		{"crop=0.2-0.9, ratio=1/2-2/1 , flip=1", imageproc.Augment{Scale: [2]float64{0.2, 0.9}, Ratio: [2]float64{0.5, 2}, HFlip: 1}},
		{"CROP=1e-1-1E0", imageproc.Augment{Scale: [2]float64{0.1, 1}, Ratio: ratio}},
		{"default,rotate=10", imageproc.Augment{Scale: scale, Ratio: ratio, HFlip: 0.5, Rotation: 10}},
		{"default,crop=none", imageproc.Augment{NoCrop: true, HFlip: 0.5}},
		{"jitter=0.2", imageproc.Augment{NoCrop: true, Brightness: 0.2}},
		{"jitter=0.2/0.3", imageproc.Augment{NoCrop: true, Brightness: 0.2, Contrast: 0.3}},
		{"brightness=0.1,hue=0.5", imageproc.Augment{NoCrop: true, Brightness: 0.1, Hue: 0.5}},
		{"crop=none,flip=0.5", imageproc.Augment{NoCrop: true, HFlip: 0.5}},
	}
	for _, c := range valid {
		got, err := imageproc.ParseAugment(c.spec)
		if err != nil || got != c.want {
			t.Errorf("ParseAugment(%q) = %+v, %v; want %+v", c.spec, got, err, c.want)
		}
	}
	invalid := []struct{ spec, want string }{
		{"", "empty augment spec"},
		{"flp=0.5", `unknown key "flp"; did you mean flip?`},
		{"jiter=0.4", "did you mean jitter?"},
		{"rotation=15", "did you mean rotate?"},
		{"crop=1-0.08", "crop=1-0.08: the area range must satisfy 0 < low <= high <= 1"},
		{"crop=0-1", "crop=0-1"},
		{"crop=0.5", "crop=0.5: want a range LOW-HIGH"},
		{"crop=0.1/2-1", "crop=0.1/2-1: want a range"},
		{"crop=0.1-NaN", "crop=0.1-NaN: want a range"},
		{"flip=2", "flip=2: the probability must be in [0, 1]"},
		{"flip=abc", "flip=abc: not a number"},
		{"rotate", "rotate needs a value"},
		{"rotate=", "rotate needs a value"},
		{"rotate=200", "rotate=200: degrees must be in [0, 180]"},
		{"rotate=NaN", "rotate=NaN: not a number"},
		{"rotate=Inf", "rotate=Inf: not a number"},
		{"hue=0.6", "hue=0.6: the hue jitter must be in [0, 0.5]"},
		{"jitter=0.4/0.4/0.4/0.1/0.3", "at most 4 values"},
		{"jitter=a/b", `"a" is not a number`},
		{"jitter", "jitter needs values"},
		{"brightness=-1", "brightness=-1: the jitter must be a non-negative number"},
		{"jitter=0/0/-0.5", "saturation=-0.5"},
		{"flip=0.5,flip=0.3", "flip is given twice"},
		{"flip=0.5,,rotate=3", "empty item"},
		{"rotate=15,default", `"default" must come first`},
		{"ratio=0.5-2", "ratio is RandomResizedCrop's and needs crop"},
		{"crop,ratio=2-0.5", "ratio=2-0.5: the aspect range"},
		{"default=1", `unknown key "default"`},
	}
	for _, c := range invalid {
		got, err := imageproc.ParseAugment(c.spec)
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "imageproc: ") {
			t.Errorf("ParseAugment(%q) = %+v, %v; want an error containing %q", c.spec, got, err, c.want)
		}
	}
}

// TestAugmentString checks that String spells every value out and parses
// back to the same augmentation.
func TestAugmentString(t *testing.T) {
	cases := []struct {
		a    imageproc.Augment
		want string
	}{
		{imageproc.DefaultAugment(), "crop=0.08-1,ratio=0.75-1.3333333333333333,flip=0.5"},
		{imageproc.Augment{}, "crop=0.08-1,ratio=0.75-1.3333333333333333"},
		{imageproc.Augment{NoCrop: true}, "none"},
		{imageproc.Augment{NoCrop: true, Scale: [2]float64{0.5, 1}, Rotation: 1.0 / 3}, "rotate=0.3333333333333333"},
		{imageproc.Augment{Scale: [2]float64{1e-3, 0.5}, Ratio: [2]float64{1, 1}, HFlip: 1, Hue: 0.5},
			"crop=0.001-0.5,ratio=1-1,flip=1,jitter=0/0/0/0.5"},
		{imageproc.Augment{NoCrop: true, Brightness: 0.4, Contrast: 0.4, Saturation: 0.4, Hue: 0.1}, "jitter=0.4/0.4/0.4/0.1"},
	}
	for _, c := range cases {
		s := c.a.String()
		if s != c.want {
			t.Errorf("%+v.String() = %q; want %q", c.a, s, c.want)
		}
		b, err := imageproc.ParseAugment(s)
		if err != nil {
			t.Errorf("ParseAugment(%q): %v", s, err)
			continue
		}
		if b.String() != s {
			t.Errorf("ParseAugment(%q).String() = %q", s, b.String())
		}
		// The same draws: the parsed value means the same augmentation.
		for seed := int64(0); seed < 5; seed++ {
			if x, y := c.a.Sample(rand.New(rand.NewSource(seed)), 300, 200), b.Sample(rand.New(rand.NewSource(seed)), 300, 200); x != y {
				t.Errorf("%q: Sample differs after a round trip: %+v vs %+v", s, x, y)
			}
		}
	}
}

func FuzzParseAugment(f *testing.F) {
	for _, s := range []string{"none", "default", "crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1",
		"crop,ratio=3/4-4/3", "default,crop=none,hue=0.5", "crop=1e-1-1", "jitter=0.1/0.2", "flp=0.5"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		a, err := imageproc.ParseAugment(spec)
		if err != nil {
			return
		}
		if err := a.Validate(); err != nil {
			t.Fatalf("ParseAugment(%q) = %+v, which Validate refuses: %v", spec, a, err)
		}
		b, err := imageproc.ParseAugment(a.String())
		if err != nil || b != a {
			t.Fatalf("ParseAugment(%q).String() = %q parses to %+v, %v; want %+v", spec, a.String(), b, err, a)
		}
		p := a.Sample(rand.New(rand.NewSource(1)), 37, 23)
		if !a.NoCrop && (p.CropX < 0 || p.CropY < 0 || p.CropW < 1 || p.CropH < 1 || p.CropX+p.CropW > 37 || p.CropY+p.CropH > 23) {
			t.Fatalf("%q: Sample(37x23) box %+v outside the image", spec, p)
		}
	})
}

// TestApplyAugmentedGo checks what needs no oracle: the identity draw is
// Apply, a box reaching outside the image reads black there (PIL's crop),
// and bad parameters are errors that name the value.
func TestApplyAugmentedGo(t *testing.T) {
	img, err := imageproc.DecodeFile("testdata/tiny.jpg") // 45x30
	if err != nil {
		t.Fatal(err)
	}
	tf := imageproc.Transform{ResizeSize: 32, CropH: 24, CropW: 28, Interp: imageproc.Bicubic, Mean: imageproc.ImageNetMean, Std: imageproc.ImageNetStd}
	identity := imageproc.AugmentParams{Brightness: 1, Contrast: 1, Saturation: 1}
	want := make([]float32, tf.Len())
	got := make([]float32, tf.Len())
	if err := tf.Apply(img, want); err != nil {
		t.Fatal(err)
	}
	if err := tf.ApplyAugmented(img, identity, got); err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("ApplyAugmented(identity) = Apply? %v, err %v", reflect.DeepEqual(got, want), err)
	}

	// A 28x24 box at (-10, -8), resized to 28x24 (the identity): black
	// where it leaves the image (the first 10 columns and 8 rows), the
	// image's pixels elsewhere.
	p := identity
	p.CropX, p.CropY, p.CropW, p.CropH = -10, -8, 28, 24
	if err := tf.ApplyAugmented(img, p, got); err != nil {
		t.Fatal(err)
	}
	plane := tf.CropH * tf.CropW
	for y := 0; y < tf.CropH; y++ {
		for x := 0; x < tf.CropW; x++ {
			for c := 0; c < 3; c++ {
				var v uint8
				if x >= 10 && y >= 8 {
					v = img.Pix[3*((y-8)*img.W+x-10)+c]
				}
				want := (float32(v)/255 - tf.Mean[c]) / tf.Std[c]
				if g := got[c*plane+y*tf.CropW+x]; g != want {
					t.Fatalf("box outside the image: pixel (%d, %d) channel %d = %v; want %v (source %d)", x, y, c, g, want, v)
				}
			}
		}
	}

	bad := []struct {
		name string
		edit func(*imageproc.AugmentParams)
		want string
	}{
		{"order", func(p *imageproc.AugmentParams) { p.JitterOrder = [4]int{0, 0, 1, 2} }, "jitter order [0 0 1 2]: must be a permutation"},
		{"hue", func(p *imageproc.AugmentParams) { p.Hue = 0.7 }, "hue factor 0.7"},
		{"brightness", func(p *imageproc.AugmentParams) { p.Brightness = -1 }, "brightness factor -1"},
		{"contrast-nan", func(p *imageproc.AugmentParams) { p.Contrast = math.NaN() }, "contrast factor NaN"},
		{"angle", func(p *imageproc.AugmentParams) { p.Angle = math.Inf(1) }, "rotation angle +Inf"},
		{"half-box", func(p *imageproc.AugmentParams) { p.CropW = 5 }, "crop box 5x0"},
		{"outside", func(p *imageproc.AugmentParams) { p.CropX, p.CropY, p.CropW, p.CropH = 45, 0, 5, 5 }, "lies outside the 45x30 image"},
		{"huge", func(p *imageproc.AugmentParams) { p.CropW, p.CropH = 1<<20, 1<<20 }, "image too large"},
	}
	for _, c := range bad {
		p := identity
		c.edit(&p)
		if err := tf.ApplyAugmented(img, p, got); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: ApplyAugmented(%+v) = %v; want an error containing %q", c.name, p, err, c.want)
		}
	}
	if err := tf.ApplyAugmented(img, identity, got[1:]); err == nil {
		t.Errorf("ApplyAugmented with a short destination: no error")
	}
}

// BenchmarkApplyAugmented times the full train pipeline (crop, flip,
// rotation, all four jitters) against the eval Apply on the same photo,
// reporting both per image and their ratio.
func BenchmarkApplyAugmented(b *testing.B) {
	img, err := imageproc.DecodeFile(filepath.Join(photos, "chelsea.jpg"))
	if err != nil {
		b.Fatal(err)
	}
	tf := imageproc.ImageNet()
	a, err := imageproc.ParseAugment("crop=0.08-1,flip=0.5,rotate=15,jitter=0.4/0.4/0.4/0.1")
	if err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewSource(1))
	x := make([]float32, tf.Len())
	var evalNs, augNs int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		if err := tf.Apply(img, x); err != nil {
			b.Fatal(err)
		}
		mid := time.Now()
		if err := tf.ApplyAugmented(img, a.Sample(rng, img.W, img.H), x); err != nil {
			b.Fatal(err)
		}
		evalNs += mid.Sub(start).Nanoseconds()
		augNs += time.Since(mid).Nanoseconds()
	}
	b.ReportMetric(float64(evalNs)/float64(b.N)/1e6, "eval-ms/img")
	b.ReportMetric(float64(augNs)/float64(b.N)/1e6, "augmented-ms/img")
	b.ReportMetric(float64(augNs)/float64(evalNs), "augmented/eval")
}
