package dataset

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
)

func touch(t *testing.T, root string, names ...string) {
	t.Helper()
	for _, n := range names {
		p := filepath.Join(root, n)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestImageFolderOrderMatchesTorchvision compares paths and labels with
// torchvision.datasets.ImageFolder on the same tree.
func TestImageFolderOrderMatchesTorchvision(t *testing.T) {
	py := testenv.Python(t)
	root := t.TempDir()
	touch(t, root, "b/z.jpg", "b/a.PNG", "b/sub/m.jpg", "b/sub2/a.jpg", "b/sub-x/q.jpeg",
		"a/10.jpg", "a/9.jpg", "a/ä.jpg", "a/B.jpg", "A/x.bmp", "a/notes.txt", "c d/e.webp")
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != "imagefolder" {
		t.Fatalf("Open(%s).Kind = %q; want imagefolder", root, d.Kind)
	}
	out, err := exec.Command(py, "-c", `import json, sys, torchvision
ds = torchvision.datasets.ImageFolder(sys.argv[1], loader=lambda p: p)
print(json.dumps({"classes": ds.classes, "samples": ds.samples}))`, root).CombinedOutput()
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
	if strings.Join(d.Classes, "|") != strings.Join(want.Classes, "|") {
		t.Errorf("classes = %q; torchvision has %q", d.Classes, want.Classes)
	}
	if len(d.Samples) != len(want.Samples) {
		t.Fatalf("%d samples; torchvision has %d: %v", len(d.Samples), len(want.Samples), want.Samples)
	}
	for i, s := range d.Samples {
		if s.Path != want.Samples[i][0].(string) || s.Label != int64(want.Samples[i][1].(float64)) {
			t.Errorf("sample %d = %s (%d); torchvision has %v", i, s.Path, s.Label, want.Samples[i])
		}
	}
}

func TestFolderListAndShards(t *testing.T) {
	root := t.TempDir()
	touch(t, root, "x/b.jpg", "a.png", "x/a.gif", "skip.txt", ".hidden/c.jpg")
	d, err := Open(root)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range d.Samples {
		rel, _ := filepath.Rel(root, s.Path)
		got = append(got, rel)
	}
	if want := "a.png,x/a.gif,x/b.jpg"; strings.Join(got, ",") != want || d.Kind != "folder" {
		t.Errorf("folder %s = %v; want %s", d.Kind, got, want)
	}
	list := filepath.Join(root, "list.txt")
	os.WriteFile(list, []byte("# comment\nx/b.jpg\t3\n\n"+filepath.Join(root, "a.png")+"\t1\n"), 0o644)
	l, err := Open(list)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Samples) != 2 || l.Samples[0].Path != filepath.Join(root, "x/b.jpg") || l.Samples[0].Label != 3 || l.Samples[1].Label != 1 {
		t.Errorf("list = %+v", l.Samples)
	}
	for _, tc := range []struct{ text, want string }{
		{"a.png\t1\nb.png\n", "label every line or none"},
		{"a.png\tcat\n", "not a non-negative integer"},
	} {
		os.WriteFile(list, []byte(tc.text), 0o644)
		if _, err := Open(list); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Open(list %q) = %v; want %q", tc.text, err, tc.want)
		}
	}
	// Shards are disjoint and cover the dataset.
	seen := map[int]int{}
	for i := 0; i < 2; i++ {
		s, err := d.Shard(i, 2)
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range s.Samples {
			seen[x.Index]++
		}
	}
	if len(seen) != len(d.Samples) {
		t.Errorf("shards cover %d of %d samples", len(seen), len(d.Samples))
	}
	for i, n := range seen {
		if n != 1 {
			t.Errorf("sample %d is in %d shards", i, n)
		}
	}
	for _, s := range []string{"2/2", "-1/2", "a/b", "1"} {
		if _, _, err := ParseShard(s); err == nil {
			t.Errorf("ParseShard(%q) = nil error", s)
		}
	}
}

// TestFashionMNIST reads Debian's Fashion-MNIST test split.
func TestFashionMNIST(t *testing.T) {
	p := "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"
	if _, err := os.Stat(p); err != nil {
		testenv.Missing(t, "Fashion-MNIST", "apt-get install dataset-fashion-mnist (make setup does)")
	}
	d, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if d.Kind != "idx" || len(d.Samples) != 10000 {
		t.Fatalf("Open(%s) = %s with %d samples; want idx with 10000", p, d.Kind, len(d.Samples))
	}
	counts := map[int64]int{}
	for _, s := range d.Samples {
		counts[s.Label]++
	}
	for c := int64(0); c < 10; c++ {
		if counts[c] != 1000 {
			t.Errorf("label %d has %d images; want 1000", c, counts[c])
		}
	}
	img, err := d.Samples[0].Decode()
	if err != nil || img.W != 28 || img.H != 28 {
		t.Fatalf("Decode() = %v, %v", img, err)
	}
	if d.Samples[0].Label != 9 { // the first test image is an ankle boot
		t.Errorf("first label %d; want 9", d.Samples[0].Label)
	}
}

func FuzzParseIDX(f *testing.F) {
	f.Add([]byte{0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 2, 1, 2, 3, 4})
	f.Add([]byte{0, 0, 8, 1, 0, 0, 0, 2, 7, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		dims, data, err := parseIDX(b, "fuzz")
		if err == nil {
			n := 1
			for _, d := range dims {
				n *= d
			}
			if n != len(data) {
				t.Fatalf("dims %v with %d bytes", dims, len(data))
			}
		}
	})
}

func TestRelabel(t *testing.T) {
	d := &Dataset{Classes: []string{"cat", "dog"}, Samples: []Sample{{Label: 0}, {Label: 1}, {Label: -1}}}
	if missing := d.Relabel([]string{"ant", "cat"}); !reflect.DeepEqual(missing, []string{"dog"}) || d.Samples[0].Label != 0 || d.Classes[0] != "cat" {
		t.Fatalf("Relabel with dog missing = %q, left %+v; want [dog] and nothing changed", missing, d)
	}
	if missing := d.Relabel([]string{"dog", "bee", "cat"}); missing != nil {
		t.Fatalf("Relabel = %q; want no missing class", missing)
	}
	if got := []int64{d.Samples[0].Label, d.Samples[1].Label, d.Samples[2].Label}; !reflect.DeepEqual(got, []int64{2, 0, -1}) || d.Classes[1] != "bee" {
		t.Errorf("Relabel labels = %v, classes %q; want [2 0 -1] over [dog bee cat]", got, d.Classes)
	}
}
