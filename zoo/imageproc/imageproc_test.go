package imageproc

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"
)

func TestOrient(t *testing.T) {
	// 3x2 image with pixel values 0..5 in the red channel.
	img := NewRGB(3, 2)
	for i := 0; i < 6; i++ {
		img.Pix[3*i] = uint8(i)
	}
	for _, tc := range []struct {
		o    int
		w, h int
		want []uint8
	}{
		{1, 3, 2, []uint8{0, 1, 2, 3, 4, 5}},
		{2, 3, 2, []uint8{2, 1, 0, 5, 4, 3}},
		{3, 3, 2, []uint8{5, 4, 3, 2, 1, 0}},
		{4, 3, 2, []uint8{3, 4, 5, 0, 1, 2}},
		{5, 2, 3, []uint8{0, 3, 1, 4, 2, 5}},
		{6, 2, 3, []uint8{3, 0, 4, 1, 5, 2}},
		{7, 2, 3, []uint8{5, 2, 4, 1, 3, 0}},
		{8, 2, 3, []uint8{2, 5, 1, 4, 0, 3}},
	} {
		got := Orient(img, tc.o)
		var red []uint8
		for i := 0; i < got.W*got.H; i++ {
			red = append(red, got.Pix[3*i])
		}
		if got.W != tc.w || got.H != tc.h || !bytes.Equal(red, tc.want) {
			t.Errorf("Orient(%d) = %dx%d %v; want %dx%d %v", tc.o, got.W, got.H, red, tc.w, tc.h, tc.want)
		}
	}
}

// exifJPEG returns a JPEG with an Exif APP1 orientation tag spliced in.
func exifJPEG(t testing.TB, jpg []byte, orientation uint16) []byte {
	t.Helper()
	tiff := []byte("II*\x00\x08\x00\x00\x00")
	tiff = binary.LittleEndian.AppendUint16(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, 0x0112)
	tiff = binary.LittleEndian.AppendUint16(tiff, 3)
	tiff = binary.LittleEndian.AppendUint32(tiff, 1)
	tiff = binary.LittleEndian.AppendUint16(tiff, orientation)
	tiff = append(tiff, 0, 0, 0, 0, 0, 0)
	seg := append([]byte("Exif\x00\x00"), tiff...)
	out := []byte{0xff, 0xd8, 0xff, 0xe1}
	out = binary.BigEndian.AppendUint16(out, uint16(len(seg)+2))
	out = append(out, seg...)
	return append(out, jpg[2:]...)
}

func TestDecodeExifOrientation(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("testdata", "tiny.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	rot, err := Decode(exifJPEG(t, b, 6))
	if err != nil {
		t.Fatal(err)
	}
	want := Orient(plain, 6)
	if rot.W != plain.H || rot.H != plain.W || !bytes.Equal(rot.Pix, want.Pix) {
		t.Errorf("EXIF orientation 6: got %dx%d; want the %dx%d image rotated 90 degrees clockwise", rot.W, rot.H, plain.W, plain.H)
	}
}

// hugeJPEG returns jpg with its baseline SOF0 size patched to 65280x65280.
func hugeJPEG(jpg []byte) []byte {
	h := append([]byte{}, jpg...)
	for i := 2; i+9 < len(h); i++ {
		if h[i] == 0xff && h[i+1] == 0xc0 {
			binary.BigEndian.PutUint16(h[i+5:], 0xff00)
			binary.BigEndian.PutUint16(h[i+7:], 0xff00)
			break
		}
	}
	return h
}

func TestDecodeErrors(t *testing.T) {
	jpg, _ := os.ReadFile(filepath.Join("testdata", "tiny.jpg"))
	for _, tc := range []struct {
		name string
		b    []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"text", []byte("hello, world"), ErrFormat},
		{"truncated jpeg", jpg[:len(jpg)/2], ErrCorrupt},
		{"jpeg header only", jpg[:2], ErrCorrupt},
		{"jpeg without EOI", jpg[:len(jpg)-2], ErrCorrupt},
		{"jpeg scan cut short", append(append([]byte{}, jpg[:len(jpg)-40]...), 0xff, 0xd9), ErrCorrupt},
		{"jpeg 65280x65280 header", hugeJPEG(jpg), ErrTooLarge},
	} {
		if _, err := Decode(tc.b); !errors.Is(err, tc.want) {
			t.Errorf("Decode(%s) = %v; want %v", tc.name, err, tc.want)
		}
	}
	tf := ImageNet()
	if err := tf.Apply(NewRGB(1, 1), make([]float32, tf.Len())); !errors.Is(err, ErrTooSmall) {
		t.Errorf("Apply(1x1) = %v; want ErrTooSmall", err)
	}
}

func TestToRGBConversions(t *testing.T) {
	gray := image.NewGray(image.Rect(0, 0, 1, 1))
	gray.Pix[0] = 77
	pal := image.NewPaletted(image.Rect(0, 0, 1, 1), color.Palette{color.NRGBA{10, 20, 30, 128}})
	nrgba := image.NewNRGBA(image.Rect(0, 0, 1, 1))
	copy(nrgba.Pix, []uint8{200, 100, 50, 0}) // alpha dropped, not composited
	cmyk := image.NewCMYK(image.Rect(0, 0, 1, 1))
	copy(cmyk.Pix, []uint8{0, 255, 128, 64})
	for _, tc := range []struct {
		name string
		img  image.Image
		want []uint8
	}{
		{"gray", gray, []uint8{77, 77, 77}},
		{"palette", pal, []uint8{10, 20, 30}},
		{"nrgba", nrgba, []uint8{200, 100, 50}},
		{"cmyk", cmyk, []uint8{191, 0, 95}}, // PIL: nk - c*nk/255
	} {
		if got := ToRGB(tc.img).Pix; !bytes.Equal(got, tc.want) {
			t.Errorf("ToRGB(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
}

func TestCenterCropPads(t *testing.T) {
	// A 10x10 image cropped to 12x12 without resize: torchvision pads with
	// zeros (1 each side) before cropping.
	img := NewRGB(10, 10)
	for i := range img.Pix {
		img.Pix[i] = 255
	}
	tf := Transform{CropH: 12, CropW: 12, Mean: [3]float32{0, 0, 0}, Std: [3]float32{1, 1, 1}}
	x := make([]float32, tf.Len())
	if err := tf.Apply(img, x); err != nil {
		t.Fatal(err)
	}
	if x[0] != 0 || x[13] != 1 || x[11] != 0 || x[12*11+11] != 0 {
		t.Errorf("padded crop corners = %v %v %v %v; want 0 1 0 0", x[0], x[13], x[11], x[12*11+11])
	}
}

func FuzzDecode(f *testing.F) {
	jpg, _ := os.ReadFile(filepath.Join("testdata", "tiny.jpg"))
	f.Add(jpg)
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 3, 2)))
	f.Add(b.Bytes())
	f.Add([]byte("GIF89a"))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := Decode(data)
		if err == nil && len(img.Pix) != 3*img.W*img.H {
			t.Fatalf("Decode returned %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}

// FuzzDecodeJPEG feeds libjpeg damaged JPEGs: every input starts with the
// JPEG signature, so each one reaches the C decoder, which must return an
// error or a well-formed image, never crash.
func FuzzDecodeJPEG(f *testing.F) {
	jpg, _ := os.ReadFile(filepath.Join("testdata", "tiny.jpg"))
	f.Add(jpg)
	f.Add(exifJPEG(f, jpg, 8))
	var g bytes.Buffer
	jpeg.Encode(&g, image.NewGray(image.Rect(0, 0, 17, 9)), nil)
	f.Add(g.Bytes())
	f.Add(jpg[:len(jpg)/3])
	f.Fuzz(func(t *testing.T, data []byte) {
		if !bytes.HasPrefix(data, []byte{0xff, 0xd8}) {
			data = append([]byte{0xff, 0xd8}, data...)
		}
		img, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("Decode error %v wraps none of ErrCorrupt, ErrFormat, ErrTooLarge", err)
			}
			return
		}
		if img.W <= 0 || img.H <= 0 || len(img.Pix) != 3*img.W*img.H {
			t.Fatalf("Decode returned %dx%d with %d bytes", img.W, img.H, len(img.Pix))
		}
	})
}
