package cli

import (
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/dataset"
	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/probe"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/featfile"
	"gonum.org/v1/gonum/mat"
)

// readDigitsCSV reads scikit-learn's digits.csv.gz: 64 pixel values
// (0..16) of an 8x8 image and the label, a line each.
func readDigitsCSV(path string) ([][]byte, []byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("data %s: %w", path, err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		return nil, nil, fmt.Errorf("data %s: not a digits.csv.gz: %w", path, err)
	}
	var imgs [][]byte
	var labels []byte
	sc := bufio.NewScanner(io.LimitReader(zr, 64<<20))
	for line := 1; sc.Scan(); line++ {
		fields := strings.Split(strings.TrimSpace(sc.Text()), ",")
		if len(fields) == 1 && fields[0] == "" {
			continue
		}
		if len(fields) != 65 {
			return nil, nil, fmt.Errorf("data %s line %d: %d values; digits rows hold 64 pixels and a label", path, line, len(fields))
		}
		img := make([]byte, 64)
		for i, s := range fields {
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || v < 0 || v > 16 {
				return nil, nil, fmt.Errorf("data %s line %d: value %q outside 0..16", path, line, s)
			}
			if i == 64 {
				labels = append(labels, byte(v))
			} else {
				img[i] = byte(v*255/16 + 0.5)
			}
		}
		imgs = append(imgs, img)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, fmt.Errorf("data %s: %w", path, err)
	}
	if len(imgs) == 0 {
		return nil, nil, fmt.Errorf("data %s: no rows", path)
	}
	return imgs, labels, nil
}

// writeDigitsIDX writes the digits as IDX files (once per content) and
// returns the images file.
func writeDigitsIDX(src string, imgs [][]byte, labels []byte, cacheDir string) (string, error) {
	h := sha256.New()
	for i, im := range imgs {
		h.Write(im)
		h.Write([]byte{labels[i]})
	}
	dir := filepath.Join(cacheDir, "data", "digits-"+hex.EncodeToString(h.Sum(nil))[:16])
	ip := filepath.Join(dir, "digits-images-idx3-ubyte")
	if _, err := os.Stat(ip); err == nil {
		return ip, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	var ib, lb []byte
	ib = binary.BigEndian.AppendUint32(ib, 0x00000803)
	for _, d := range []int{len(imgs), 8, 8} {
		ib = binary.BigEndian.AppendUint32(ib, uint32(d))
	}
	for _, im := range imgs {
		ib = append(ib, im...)
	}
	lb = binary.BigEndian.AppendUint32(lb, 0x00000801)
	lb = binary.BigEndian.AppendUint32(lb, uint32(len(labels)))
	lb = append(lb, labels...)
	lp := filepath.Join(dir, "digits-labels-idx1-ubyte")
	if err := atomicFile(lp, lb); err != nil {
		return "", err
	}
	if err := atomicFile(ip, ib); err != nil {
		return "", err
	}
	return ip, nil
}

func atomicFile(path string, b []byte) error {
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// extractTo runs gozoo extract's image path for u's model and data into
// out (a feature file), taking data.limit images when set.
func (r *runner) extractTo(ctx context.Context, u *unit, layers []string, out string) error {
	c := u.cfg
	m := u.model
	input, format := c.Data.Path, c.Data.Format
	if format == "digits_csv" || (format == "auto" && strings.HasSuffix(input, ".csv.gz")) {
		ds, err := openData(input, format, r.cacheDir())
		if err != nil {
			return err
		}
		input, format = strings.TrimSuffix(ds.Samples[0].Path, "#0"), "idx"
	}
	mf := modelFlags{Plugin: c.Model.Plugin, Device: c.Device, Threads: c.Threads, Seed: c.Seed}
	if m.name == "" {
		mf.Arch, mf.Weights, mf.Opts = c.Model.Arch, c.Model.Weights, m.flags.Opts
	} else {
		mf.Opts = optionStrings(c.Model.Options)
	}
	workers := c.Extract.Workers
	if workers == 0 {
		workers = runtime.NumCPU()
	}
	eo := &ExtractOptions{f: r.f, Model: mf, Layers: layers, Out: out, Input: input, BatchSize: c.Extract.BatchSize,
		Images: imageFlags{catalogFlags: catalogFlags{Model: m.name, Offline: os.Getenv("GOZOO_OFFLINE") == "1"},
			transformFlags: *configTransform(c), Dataset: format, OnError: "fail", Workers: workers}}
	if c.Data.Limit > 0 {
		limit, seed := c.Data.Limit, c.Seed
		eo.subset = func(ds *dataset.Dataset) (*dataset.Dataset, error) {
			labels := make([]int, len(ds.Samples))
			for i, s := range ds.Samples {
				labels[i] = int(s.Label)
			}
			keep := probe.Subsample(labels, limit, seed)
			d := *ds
			d.Samples = make([]dataset.Sample, len(keep))
			for i, j := range keep {
				d.Samples[i] = ds.Samples[j]
			}
			fmt.Fprintf(r.f.Err, "data: %d of %d images (data.limit, stratified, seed %d)\n", len(keep), len(ds.Samples), seed)
			return &d, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	return runExtractImages(ctx, eo)
}

// cacheMeta is the sidecar of a cached layer's features.
type cacheMeta struct {
	Layer        string   `json:"layer"`
	Model        string   `json:"model"`
	Shape        []int64  `json:"shape"`
	Paths        []string `json:"paths"`
	Classes      []string `json:"classes,omitempty"`
	ModelClasses []string `json:"model_classes,omitempty"`
	Seconds      float64  `json:"seconds"`
}

// ensureFeatures computes the features units need that the cache lacks:
// one forward pass per model and data for all their missing layers.
func (r *runner) ensureFeatures(ctx context.Context, units []*unit) error {
	type group struct {
		u      *unit
		layers []string
	}
	var order []string
	groups := map[string]*group{}
	for _, u := range units {
		if u.cfg.Kind != "probe" {
			continue
		}
		gk := u.model.key + "|" + dataKey(u.cfg.Data.Path, u.cfg.Data.Format) + fmt.Sprintf("|%d|%d", u.cfg.Data.Limit, u.cfg.Seed)
		for _, l := range u.layers {
			if _, err := os.Stat(r.cachePath(u.featureKey(l))); err == nil {
				continue
			}
			g, ok := groups[gk]
			if !ok {
				g = &group{u: u}
				groups[gk] = g
				order = append(order, gk)
			}
			if !contains(g.layers, l) {
				g.layers = append(g.layers, l)
			}
		}
	}
	for _, gk := range order {
		g := groups[gk]
		h := sha256.Sum256([]byte(gk + "|" + strings.Join(g.layers, ",")))
		pending := filepath.Join(r.cacheDir(), "pending", hex.EncodeToString(h[:])[:24]+".npz")
		fmt.Fprintf(r.f.Err, "features: computing %s of %s on %s (cached for every later trial and run)\n",
			strings.Join(g.layers, ", "), g.u.model.label(), g.u.cfg.Data.Path)
		start := time.Now()
		if err := r.extractTo(ctx, g.u, g.layers, pending); err != nil {
			return err
		}
		secs := time.Since(start).Seconds()
		ff, err := featfile.Load(pending, g.layers...)
		if err != nil {
			return err
		}
		for _, l := range g.layers {
			if err := r.storeLayer(g.u, l, ff, secs/float64(len(g.layers))); err != nil {
				return err
			}
		}
		os.Remove(pending)
	}
	return nil
}

func (r *runner) storeLayer(u *unit, layer string, ff *featfile.File, secs float64) error {
	key := u.featureKey(layer)
	t := ff.Layers[layer]
	meta := cacheMeta{Layer: layer, Model: u.model.label(), Shape: t.Shape, Paths: ff.Paths, Classes: ff.Classes,
		ModelClasses: ff.ModelClasses, Seconds: secs}
	b, _ := json.Marshal(meta)
	p := r.cachePath(key)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	if err := atomicFile(strings.TrimSuffix(p, ".npz")+".json", b); err != nil {
		return err
	}
	w, err := npy.Create(p)
	if err != nil {
		return err
	}
	labels := &sdk.Tensor{Shape: []int64{int64(len(ff.Labels))}, Int64: ff.Labels}
	if err := w.Add("features", t); err != nil {
		w.Abort()
		return err
	}
	if err := w.Add("label", labels); err != nil {
		w.Abort()
		return err
	}
	return w.Close()
}

// featSet is a unit's features: its layers flattened and joined.
type featSet struct {
	X            *mat.Dense
	Labels       []int64
	Paths        []string
	Classes      []string
	ModelClasses []string
	Dims         map[string]int
	Files        []string
	Seconds      float64
}

func (r *runner) loadFeatures(u *unit) (*featSet, error) {
	fs := &featSet{Dims: map[string]int{}}
	var blocks []*sdk.Tensor
	for _, l := range u.layers {
		p := r.cachePath(u.featureKey(l))
		arrs, _, err := npy.ReadNPZ(p)
		if err != nil {
			return nil, fmt.Errorf("feature cache %s: %w (delete it to recompute)", p, err)
		}
		b, err := os.ReadFile(strings.TrimSuffix(p, ".npz") + ".json")
		if err != nil {
			return nil, fmt.Errorf("feature cache: %w (delete %s to recompute)", err, p)
		}
		var meta cacheMeta
		if err := json.Unmarshal(b, &meta); err != nil {
			return nil, fmt.Errorf("feature cache %s: %w", p, err)
		}
		t, lab := arrs["features"], arrs["label"]
		if t == nil || lab == nil || len(t.Shape) == 0 || t.Shape[0] != int64(len(meta.Paths)) {
			return nil, fmt.Errorf("feature cache %s is damaged: delete it to recompute", p)
		}
		if fs.Labels == nil {
			fs.Labels, fs.Paths, fs.Classes, fs.ModelClasses = lab.Int64, meta.Paths, meta.Classes, meta.ModelClasses
		} else if len(lab.Int64) != len(fs.Labels) {
			return nil, fmt.Errorf("feature cache: layers hold different rows (%d, %d)", len(lab.Int64), len(fs.Labels))
		}
		blocks = append(blocks, t)
		fs.Dims[l] = int(sdk.NumElements(t.Shape[1:]))
		fs.Files = append(fs.Files, p)
		fs.Seconds += meta.Seconds
	}
	n := len(fs.Labels)
	d := 0
	for _, b := range blocks {
		d += int(sdk.NumElements(b.Shape[1:]))
	}
	x := mat.NewDense(n, d, nil)
	off := 0
	for _, b := range blocks {
		w := int(sdk.NumElements(b.Shape[1:]))
		for i := 0; i < n; i++ {
			row := x.RawRowView(i)[off : off+w]
			for j, v := range b.Float32[i*w : (i+1)*w] {
				row[j] = float64(v)
			}
		}
		off += w
	}
	fs.X = x
	return fs, nil
}
