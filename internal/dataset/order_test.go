package dataset

import (
	"encoding/hex"
	"encoding/json"
	"os/exec"
	"slices"
	"sort"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
)

// pyOrderNames sort differently as bytes and as Python str: the Latin-1
// bytes of "über" and "ñu" decode to lone surrogates (U+DCFC, U+DCF1),
// which Python sorts before U+E000 and up (the fullwidth "ｆｕｌｌ", the
// emoji), while their bytes 0xFC, 0xF1 sort after 0xEF and 0xF0.
var pyOrderNames = []string{"\xfcber", "\xf1u", "\U0001F431cat", "\uff46\uff55\uff4c\uff4c", "Zebra", "apple", "\u00c4pfel"}

func TestPyLess(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"a", "b", true}, {"b", "a", false}, {"a", "a", false}, {"a", "ab", true}, {"ab", "a", false},
		{"Z", "a", true}, {"\u00e4", "z", false},
		{"\xfcber", "\U0001F431", true},   // U+DCFC < U+1F431; bytes say otherwise
		{"\xfcber", "\uff46", true},       // U+DCFC < U+FF46
		{"\u00fcber", "\xfcber", true},    // U+00FC < U+DCFC
		{"\U0001F431", "\uff46", false},   // code points, as bytes
		{"x\xff", "x\xfe", false},         // escaped bytes keep their order
		{"\xed\xa0\x80", "\ud7ff", false}, // an encoded surrogate is three escaped bytes, U+DCED > U+D7FF
	} {
		if got := PyLess(c.a, c.b); got != c.want {
			t.Errorf("PyLess(%q, %q) = %v; want %v", c.a, c.b, got, c.want)
		}
	}
}

// TestClassOrderMatchesTorchvisionWhereBytesDiffer builds an ImageFolder
// tree whose class names sort differently as bytes and as torchvision
// sorts them, and checks gozoo's classes and samples against
// torchvision.datasets.ImageFolder on the same tree.
func TestClassOrderMatchesTorchvisionWhereBytesDiffer(t *testing.T) {
	py := testenv.Python(t)
	root := t.TempDir()
	var files []string
	for _, c := range pyOrderNames {
		files = append(files, c+"/"+c+".jpg", c+"/b.jpg", c+"/\xe9t\xe9.jpg", c+"/\uff45.jpg")
	}
	touch(t, root, files...)
	bytesOrder := slices.Clone(pyOrderNames)
	sort.Strings(bytesOrder)

	d, err := OpenKind(root, "imagefolder")
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import json, os, sys, torchvision
ds = torchvision.datasets.ImageFolder(sys.argv[1], loader=lambda p: p)
h = lambda s: os.fsencode(s).hex()
print(json.dumps({"classes": [h(c) for c in ds.classes], "samples": [[h(p), l] for p, l in ds.samples]}))`, root).CombinedOutput()
	if err != nil {
		t.Fatalf("torchvision: %v\n%s", err, out)
	}
	var want struct {
		Classes []string
		Samples [][2]any
	}
	if err := json.Unmarshal(out, &want); err != nil {
		t.Fatal(err)
	}
	unhex := func(s string) string {
		b, err := hex.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	var wantClasses []string
	for _, c := range want.Classes {
		wantClasses = append(wantClasses, unhex(c))
	}
	if slices.Equal(bytesOrder, wantClasses) {
		t.Fatalf("byte order %q equals torchvision's: the tree does not test the difference", bytesOrder)
	}
	if !slices.Equal(d.Classes, wantClasses) {
		t.Errorf("classes = %q; torchvision has %q (byte order is %q)", d.Classes, wantClasses, bytesOrder)
	}
	if len(d.Samples) != len(want.Samples) {
		t.Fatalf("%d samples; torchvision has %d", len(d.Samples), len(want.Samples))
	}
	for i, s := range d.Samples {
		if p := unhex(want.Samples[i][0].(string)); s.Path != p || s.Label != int64(want.Samples[i][1].(float64)) {
			t.Errorf("sample %d = %q (%d); torchvision has %q (%v)", i, s.Path, s.Label, p, want.Samples[i][1])
		}
	}
}
