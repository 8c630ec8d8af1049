package dataset

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/zoo/imageproc"
)

// ErrEmpty reports a dataset with no images.
var ErrEmpty = errors.New("dataset: no images")

// Extensions are the file extensions Folder and ImageFolder take
// (torchvision's IMG_EXTENSIONS that gozoo decodes, plus .gif).
var Extensions = []string{".jpg", ".jpeg", ".png", ".bmp", ".webp", ".gif"}

// Sample is one image of a dataset.
type Sample struct {
	// Index is the sample's position in the whole (unsharded) dataset.
	Index int
	// Path names the image: a file path, or FILE#N for IDX images.
	Path  string
	Label int64 // -1 when the dataset has no labels
	idx   *idxImages
}

// Decode reads and decodes the sample as RGB. Only regular files are
// read: a named pipe or device among the images is an error matching
// imageproc.ErrNotRegular.
func (s Sample) Decode() (*imageproc.RGB, error) {
	img, _, err := s.decode(context.Background(), nil)
	return img, err
}

// decode is Decode holding the decoding memory from budget until release.
func (s Sample) decode(ctx context.Context, budget *imageproc.Budget) (*imageproc.RGB, func(), error) {
	if s.idx != nil {
		return s.idx.image(s.Index), func() {}, nil // already in memory
	}
	return imageproc.DecodeFileWithin(ctx, s.Path, budget)
}

// Dataset is an ordered list of samples.
type Dataset struct {
	Kind    string   // folder, imagefolder, list, idx
	Classes []string // class names by label (ImageFolder), else nil
	Samples []Sample
}

// Open guesses the kind of path (see OpenKind with kind "auto").
func Open(path string) (*Dataset, error) { return OpenKind(path, "auto") }

// OpenKind opens path as a dataset of the given kind: folder,
// imagefolder, list, idx, or auto (a folder whose top level holds only
// sub-folders is an imagefolder; a file named *idx3-ubyte* is idx; any
// other file is a list).
func OpenKind(path, kind string) (*Dataset, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if kind == "auto" || kind == "" {
		switch {
		case st.IsDir() && onlySubdirs(path):
			kind = "imagefolder"
		case st.IsDir():
			kind = "folder"
		case strings.Contains(filepath.Base(path), "idx3-ubyte"):
			kind = "idx"
		default:
			kind = "list"
		}
	}
	var d *Dataset
	switch kind {
	case "folder":
		d, err = openFolder(path)
	case "imagefolder":
		d, err = openImageFolder(path)
	case "list":
		d, err = openList(path)
	case "idx":
		d, err = openIDX(path)
	default:
		return nil, fmt.Errorf("dataset: kind %q: use auto, folder, imagefolder, list or idx", kind)
	}
	if err != nil {
		return nil, err
	}
	if len(d.Samples) == 0 {
		return nil, fmt.Errorf("%w in %s (%s; image files end in %s)", ErrEmpty, path, kind, strings.Join(Extensions, " "))
	}
	for i := range d.Samples {
		d.Samples[i].Index = i
	}
	return d, nil
}

func onlySubdirs(dir string) bool {
	es, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	dirs := 0
	for _, e := range es {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		if !e.IsDir() && isImage(e.Name()) {
			return false
		}
		if e.IsDir() {
			dirs++
		}
	}
	return dirs > 0
}

// IsImage reports whether name ends in one of Extensions (any case).
func IsImage(name string) bool { return isImage(name) }

func isImage(name string) bool {
	l := strings.ToLower(name)
	for _, x := range Extensions {
		if strings.HasSuffix(l, x) {
			return true
		}
	}
	return false
}

func openFolder(dir string) (*Dataset, error) {
	d := &Dataset{Kind: "folder"}
	paths, err := walkImages(dir)
	if err != nil {
		return nil, err
	}
	for _, p := range paths {
		d.Samples = append(d.Samples, Sample{Path: p, Label: -1})
	}
	return d, nil
}

// walkImages lists image files under dir sorted as torchvision's
// make_dataset does: by folder path, then by file name.
func walkImages(dir string) ([]string, error) {
	type item struct{ dir, name string }
	var items []item
	err := filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.IsDir() && p != dir && strings.HasPrefix(e.Name(), ".") {
			return filepath.SkipDir
		}
		if !e.IsDir() && isImage(e.Name()) {
			items = append(items, item{filepath.Dir(p), e.Name()})
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = filepath.Join(it.dir, it.name)
	}
	SortPaths(out)
	return out, nil
}

// SortPaths sorts file paths as torchvision's make_dataset orders a
// folder's files: by folder path, then by file name, each as Python's
// sorted() compares them (see PyLess). Folders are split at the last "/".
func SortPaths(paths []string) {
	split := func(p string) (string, string) {
		i := strings.LastIndexByte(p, '/')
		if i < 0 {
			return "", p
		}
		return p[:i], p[i+1:]
	}
	sort.SliceStable(paths, func(i, j int) bool {
		di, ni := split(paths[i])
		dj, nj := split(paths[j])
		if di != dj {
			return PyLess(di, dj)
		}
		return PyLess(ni, nj)
	})
}

func openImageFolder(dir string) (*Dataset, error) {
	es, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	d := &Dataset{Kind: "imagefolder"}
	for _, e := range es {
		if e.IsDir() {
			d.Classes = append(d.Classes, e.Name())
		}
	}
	SortPy(d.Classes) // torchvision: sorted(entry.name for entry in os.scandir(dir) if entry.is_dir())
	if len(d.Classes) == 0 {
		return nil, fmt.Errorf("%w: %s has no class folders (an ImageFolder has one sub-folder per class)", ErrEmpty, dir)
	}
	var empty []string
	for label, c := range d.Classes {
		paths, err := walkImages(filepath.Join(dir, c))
		if err != nil {
			return nil, err
		}
		if len(paths) == 0 {
			empty = append(empty, c)
		}
		for _, p := range paths {
			d.Samples = append(d.Samples, Sample{Path: p, Label: int64(label)})
		}
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("%w: class folders %q in %s hold no image (torchvision refuses this too: remove them or add images)", ErrEmpty, empty, dir)
	}
	return d, nil
}

func openList(path string) (*Dataset, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	base := filepath.Dir(path)
	return ParseList(f, path, func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(base, p)
	})
}

// ParseList reads a list of images from r as OpenKind reads a list file
// named path: a path a line, or PATH<TAB>LABEL on every line; blank lines
// and lines starting with # are skipped. resolve turns each path as
// written into the sample's path (OpenKind makes relative paths relative
// to the list's folder). Samples are numbered in the list's order.
func ParseList(r io.Reader, path string, resolve func(string) string) (*Dataset, error) {
	d := &Dataset{Kind: "list"}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	line := 0
	labelled := -1
	for sc.Scan() {
		line++
		s := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(s) == "" || strings.HasPrefix(s, "#") {
			continue
		}
		if bytes.IndexByte([]byte(s), 0) >= 0 {
			return nil, fmt.Errorf("dataset: %s is not a text list of image paths (line %d has a NUL byte)", path, line)
		}
		p, label := s, int64(-1)
		if i := strings.LastIndexByte(s, '\t'); i >= 0 {
			v, err := strconv.ParseInt(strings.TrimSpace(s[i+1:]), 10, 64)
			if err != nil || v < 0 {
				return nil, fmt.Errorf("dataset: %s:%d: label %q is not a non-negative integer (lines are PATH or PATH<TAB>LABEL)", path, line, s[i+1:])
			}
			p, label = s[:i], v
		}
		has := 0
		if label >= 0 {
			has = 1
		}
		if labelled >= 0 && labelled != has {
			return nil, fmt.Errorf("dataset: %s:%d: some lines have labels and some do not; label every line or none", path, line)
		}
		labelled = has
		d.Samples = append(d.Samples, Sample{Index: len(d.Samples), Path: resolve(p), Label: label})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("dataset: read %s: %w", path, err)
	}
	return d, nil
}

// ClassIndex returns, for each name in tree, its index in classes,
// matching by name. The names of tree that classes lacks come back in
// missing, in tree's order (their index is 0).
func ClassIndex(tree, classes []string) (index []int, missing []string) {
	at := make(map[string]int, len(classes))
	for i, c := range classes {
		at[c] = i
	}
	index = make([]int, len(tree))
	for i, c := range tree {
		j, ok := at[c]
		if !ok {
			missing = append(missing, c)
		}
		index[i] = j
	}
	return index, missing
}

// Relabel renumbers d's labels as indices into classes, matching class
// names, and makes classes d's Classes. When some of d's classes are not
// among classes it changes nothing and returns them.
func (d *Dataset) Relabel(classes []string) (missing []string) {
	index, missing := ClassIndex(d.Classes, classes)
	if len(missing) > 0 {
		return missing
	}
	for i := range d.Samples {
		if l := d.Samples[i].Label; l >= 0 {
			d.Samples[i].Label = int64(index[l])
		}
	}
	d.Classes = classes
	return nil
}

// Shard keeps the samples whose Index % n == i.
func (d *Dataset) Shard(i, n int) (*Dataset, error) {
	if n < 1 || i < 0 || i >= n {
		return nil, fmt.Errorf("dataset: shard %d/%d: want 0 <= i < N", i, n)
	}
	out := &Dataset{Kind: d.Kind, Classes: d.Classes}
	for _, s := range d.Samples {
		if s.Index%n == i {
			out.Samples = append(out.Samples, s)
		}
	}
	return out, nil
}

// ParseShard parses "i/N".
func ParseShard(s string) (int, int, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(a)
	n, err2 := strconv.Atoi(b)
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return 0, 0, fmt.Errorf("shard %q: give i/N with 0 <= i < N, e.g. 0/4", s)
	}
	return i, n, nil
}

// idxImages is an IDX image file held in memory.
type idxImages struct {
	rows, cols int
	pix        []byte
}

func (m *idxImages) image(i int) *imageproc.RGB {
	n := m.rows * m.cols
	img := imageproc.NewRGB(m.cols, m.rows)
	for j, v := range m.pix[i*n : (i+1)*n] {
		img.Pix[3*j], img.Pix[3*j+1], img.Pix[3*j+2] = v, v, v
	}
	return img
}

func readMaybeGzip(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) > 2 && b[0] == 0x1f && b[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		return io.ReadAll(io.LimitReader(zr, 1<<31))
	}
	return b, nil
}

// parseIDX returns the dims and data of an IDX file of unsigned bytes.
func parseIDX(b []byte, path string) ([]int, []byte, error) {
	if len(b) < 4 || b[0] != 0 || b[1] != 0 || b[2] != 0x08 {
		return nil, nil, fmt.Errorf("dataset: %s is not an IDX file of unsigned bytes (magic %x)", path, b[:min(4, len(b))])
	}
	nd := int(b[3])
	if nd < 1 || len(b) < 4+4*nd {
		return nil, nil, fmt.Errorf("dataset: %s: truncated IDX header", path)
	}
	dims := make([]int, nd)
	total := 1
	for i := range dims {
		dims[i] = int(binary.BigEndian.Uint32(b[4+4*i:]))
		if dims[i] <= 0 || dims[i] > 1<<28 || total > (1<<31)/dims[i] {
			return nil, nil, fmt.Errorf("dataset: %s: bad IDX dimension %d", path, dims[i])
		}
		total *= dims[i]
	}
	data := b[4+4*nd:]
	if len(data) != total {
		return nil, nil, fmt.Errorf("dataset: %s: IDX data has %d bytes; the header says %d", path, len(data), total)
	}
	return dims, data, nil
}

func openIDX(path string) (*Dataset, error) {
	b, err := readMaybeGzip(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	dims, data, err := parseIDX(b, path)
	if err != nil {
		return nil, err
	}
	if len(dims) != 3 {
		return nil, fmt.Errorf("dataset: %s: IDX images have 3 dimensions [N, rows, cols]; got %v", path, dims)
	}
	m := &idxImages{rows: dims[1], cols: dims[2], pix: data}
	labels := make([]int64, dims[0])
	for i := range labels {
		labels[i] = -1
	}
	lp := strings.Replace(path, "idx3-ubyte", "idx1-ubyte", 1)
	lp = strings.Replace(lp, "-images-", "-labels-", 1)
	if lp != path {
		if lb, err := readMaybeGzip(lp); err == nil {
			ld, ldata, err := parseIDX(lb, lp)
			if err != nil {
				return nil, err
			}
			if len(ld) != 1 || ld[0] != dims[0] {
				return nil, fmt.Errorf("dataset: %s has %v labels for %d images in %s", lp, ld, dims[0], path)
			}
			for i, v := range ldata {
				labels[i] = int64(v)
			}
		}
	}
	d := &Dataset{Kind: "idx"}
	for i := 0; i < dims[0]; i++ {
		d.Samples = append(d.Samples, Sample{Path: fmt.Sprintf("%s#%d", path, i), Label: labels[i], idx: m})
	}
	return d, nil
}
