package featfile

import (
	"archive/zip"
	"bufio"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/gozoo/gozoo/sdk"
)

// ErrOtherRun reports an OUT.partial folder left by a different run.
var ErrOtherRun = errors.New("featfile: partial output belongs to another run")

// Row indexes one feature row.
type Row struct {
	Path  string `json:"path"`
	Label int64  `json:"label"`
}

// Skip records an input that produced no row.
type Skip struct {
	Path  string `json:"path"`
	Error string `json:"error"`
}

type meta struct {
	Fingerprint string             `json:"fingerprint"`
	Run         Run                `json:"run,omitempty"`
	Layers      []string           `json:"layers"`
	RowShapes   map[string][]int64 `json:"row_shapes,omitempty"`
	// Classes name the labels; ModelClasses the model's outputs.
	Classes      []string `json:"classes,omitempty"`
	ModelClasses []string `json:"model_classes,omitempty"`
	// Info holds notes such as the model and the transform used.
	Info map[string]string `json:"info,omitempty"`
}

type chunkIndex struct {
	Rows    []Row  `json:"rows"`
	Skipped []Skip `json:"skipped"`
	Next    int    `json:"next"` // dataset positions done after this chunk
}

// Run names every setting of a run that changes its output (model,
// weights, seed, options, preprocessing, layers, inputs), each as a
// readable value. A partial output resumes only under an equal Run.
type Run map[string]string

// Fingerprint is a digest of r and layers.
func (r Run) Fingerprint(layers []string) string {
	h := sha256.New()
	for _, k := range slices.Sorted(maps.Keys(r)) {
		fmt.Fprintf(h, "%q=%q\n", k, r[k])
	}
	fmt.Fprintf(h, "layers=%q\n", layers)
	return hex.EncodeToString(h.Sum(nil))
}

// RunError reports an OUT.partial folder written by a run with other
// settings. It matches ErrOtherRun.
type RunError struct {
	Dir string
	// Diffs lists each differing setting as "name: X in the partial
	// output, Y now", sorted by name; empty when the partial output
	// records no settings to compare.
	Diffs []string
}

func (e *RunError) Error() string {
	what := "an unknown run (written without its settings)"
	if len(e.Diffs) > 0 {
		what = "a run with other settings: " + strings.Join(e.Diffs, "; ")
	}
	return fmt.Sprintf("%v: %s was written by %s: remove %s or pass the same flags", ErrOtherRun, e.Dir, what, e.Dir)
}

// Is reports whether target is ErrOtherRun.
func (e *RunError) Is(target error) bool { return target == ErrOtherRun }

func diffRuns(old, now Run, oldLayers, nowLayers []string) []string {
	var out []string
	show := func(v string, ok bool) string {
		if !ok {
			return "unset"
		}
		return strconv.Quote(v)
	}
	union := maps.Clone(old)
	if union == nil {
		union = Run{}
	}
	maps.Copy(union, now)
	keys := slices.Sorted(maps.Keys(union))
	for _, k := range keys {
		a, okA := old[k]
		b, okB := now[k]
		if a != b || okA != okB {
			out = append(out, fmt.Sprintf("%s: %s in the partial output, %s now", k, show(a, okA), show(b, okB)))
		}
	}
	if !slices.Equal(oldLayers, nowLayers) {
		out = append(out, fmt.Sprintf("layers: %s in the partial output, %s now", strings.Join(oldLayers, ","), strings.Join(nowLayers, ",")))
	}
	return out
}

// Writer appends chunks of rows. It is not safe for concurrent use.
type Writer struct {
	out, dir string
	meta     meta
	chunks   []chunkIndex
	next     int
	closed   bool
	created  bool // dir exists
}

// Open starts or resumes the output out (.npz or .safetensors) of the
// run described by run. A partial folder of a run with another Run or
// other layers is refused with a *RunError naming what differs. A new
// run creates OUT.partial/ only when its first chunk is appended, so a
// run that fails before that leaves nothing behind.
func Open(out string, run Run, layers []string) (*Writer, error) {
	if !strings.HasSuffix(out, ".npz") && !strings.HasSuffix(out, ".safetensors") {
		return nil, fmt.Errorf("featfile: %s: the output must end in .npz or .safetensors", out)
	}
	fp := run.Fingerprint(layers)
	w := &Writer{out: out, dir: out + ".partial", meta: meta{Fingerprint: fp, Run: run, Layers: layers}}
	mp := filepath.Join(w.dir, "meta.json")
	b, err := os.ReadFile(mp)
	switch {
	case err == nil:
		var m meta
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("featfile: %s is damaged (%v): remove %s to start over", mp, err, w.dir)
		}
		if m.Fingerprint != fp {
			e := &RunError{Dir: w.dir}
			if m.Run != nil {
				e.Diffs = diffRuns(m.Run, run, m.Layers, layers)
			}
			return nil, e
		}
		w.meta = m
		w.created = true
		if err := w.loadChunks(); err != nil {
			return nil, err
		}
	case errors.Is(err, os.ErrNotExist):
	default:
		return nil, fmt.Errorf("featfile: %w", err)
	}
	return w, nil
}

// create makes the partial folder and its meta.json on first use.
func (w *Writer) create() error {
	if w.created {
		return nil
	}
	if err := os.MkdirAll(w.dir, 0o755); err != nil {
		return fmt.Errorf("featfile: %w", err)
	}
	if err := w.writeMeta(); err != nil {
		return err
	}
	w.created = true
	return nil
}

func (w *Writer) writeMeta() error {
	b, _ := json.Marshal(w.meta)
	return atomicWrite(filepath.Join(w.dir, "meta.json"), b)
}

func (w *Writer) chunkName(i int, ext string) string {
	return filepath.Join(w.dir, fmt.Sprintf("chunk-%06d.%s", i, ext))
}

// loadChunks reads committed chunks and removes uncommitted data.
func (w *Writer) loadChunks() error {
	for i := 0; ; i++ {
		b, err := os.ReadFile(w.chunkName(i, "json"))
		if errors.Is(err, os.ErrNotExist) {
			os.Remove(w.chunkName(i, "bin")) // data without its commit
			break
		}
		if err != nil {
			return fmt.Errorf("featfile: %w", err)
		}
		var c chunkIndex
		if err := json.Unmarshal(b, &c); err != nil {
			return fmt.Errorf("featfile: %s is damaged (%v): delete %s to start over", w.chunkName(i, "json"), err, w.dir)
		}
		st, err := os.Stat(w.chunkName(i, "bin"))
		if err != nil || st.Size() != int64(len(c.Rows))*w.rowBytes() {
			return fmt.Errorf("featfile: %s does not match its index: delete %s to start over", w.chunkName(i, "bin"), w.dir)
		}
		w.chunks = append(w.chunks, c)
		w.next = c.Next
	}
	return nil
}

func (w *Writer) rowBytes() int64 {
	n := int64(0)
	for _, l := range w.meta.Layers {
		n += 4 * sdk.NumElements(w.meta.RowShapes[l])
	}
	return n
}

// SetClasses records the names of the labels (label i is classes[i]) and
// of the model's outputs (logit j is modelClasses[j]); either may be nil.
// The output file carries them: "classes" and "model_classes" string
// arrays in .npz, the same keys (JSON lists) in .safetensors metadata.
// Call it before Finish.
func (w *Writer) SetClasses(classes, modelClasses []string) {
	w.meta.Classes, w.meta.ModelClasses = classes, modelClasses
}

// SetInfo records notes on how the features were made (keys such as
// "model" and "transform"). The output file carries each as a
// one-element string array in .npz (named info_KEY) and as metadata KEY in
// .safetensors. Call it before Finish.
func (w *Writer) SetInfo(info map[string]string) { w.meta.Info = info }

// Next is the number of dataset positions already processed (written or
// skipped); a resumed run starts there.
func (w *Writer) Next() int { return w.next }

// Rows is the number of feature rows written so far.
func (w *Writer) Rows() int {
	n := 0
	for _, c := range w.chunks {
		n += len(c.Rows)
	}
	return n
}

// Append commits one chunk: rows with their features (each layer's tensor
// is [len(rows), ...] float32), the inputs skipped among them, and next,
// the dataset position after the chunk.
func (w *Writer) Append(rows []Row, feats map[string]*sdk.Tensor, skipped []Skip, next int) error {
	if w.closed {
		return errors.New("featfile: Append after Finish")
	}
	if err := w.create(); err != nil {
		return err
	}
	if len(rows) > 0 && w.meta.RowShapes == nil {
		w.meta.RowShapes = map[string][]int64{}
		for _, l := range w.meta.Layers {
			t := feats[l]
			if t == nil {
				return fmt.Errorf("featfile: no output for layer %q", l)
			}
			w.meta.RowShapes[l] = append([]int64(nil), t.Shape[1:]...)
		}
		if err := w.writeMeta(); err != nil {
			return err
		}
	}
	i := len(w.chunks)
	f, err := os.Create(w.chunkName(i, "bin"))
	if err != nil {
		return fmt.Errorf("featfile: %w", err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	for _, l := range w.meta.Layers {
		if len(rows) == 0 {
			break
		}
		t := feats[l]
		if t == nil || t.DType() != sdk.Float32 || len(t.Shape) == 0 || t.Shape[0] != int64(len(rows)) ||
			!equalShape(t.Shape[1:], w.meta.RowShapes[l]) {
			f.Close()
			return fmt.Errorf("featfile: layer %q output does not fit %d rows of shape %v", l, len(rows), w.meta.RowShapes[l])
		}
		buf := make([]byte, 4)
		for _, v := range t.Float32 {
			binary.LittleEndian.PutUint32(buf, math.Float32bits(v))
			bw.Write(buf)
		}
	}
	err = bw.Flush()
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err != nil {
		return fmt.Errorf("featfile: %w", err)
	}
	c := chunkIndex{Rows: rows, Skipped: skipped, Next: next}
	if c.Rows == nil {
		c.Rows = []Row{}
	}
	b, _ := json.Marshal(c)
	if err := atomicWrite(w.chunkName(i, "json"), b); err != nil {
		return err
	}
	w.chunks = append(w.chunks, c)
	w.next = next
	return nil
}

func equalShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Skipped lists every skipped input so far.
func (w *Writer) Skipped() []Skip {
	var out []Skip
	for _, c := range w.chunks {
		out = append(out, c.Skipped...)
	}
	return out
}

// Finish writes the output file atomically and removes the partial
// folder.
func (w *Writer) Finish() error {
	if w.closed {
		return nil
	}
	if w.Rows() == 0 {
		return fmt.Errorf("featfile: no rows to write to %s (every input was skipped)", w.out)
	}
	tmp := w.out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("featfile: %w", err)
	}
	if strings.HasSuffix(w.out, ".npz") {
		err = w.writeNPZ(f)
	} else {
		err = w.writeSafetensors(f)
	}
	if err == nil {
		err = f.Sync()
	}
	err = errors.Join(err, f.Close())
	if err == nil {
		err = os.Rename(tmp, w.out)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("featfile: write %s: %w", w.out, err)
	}
	w.closed = true
	return os.RemoveAll(w.dir)
}

// copyLayer streams layer l's rows from every chunk to dst.
func (w *Writer) copyLayer(dst io.Writer, l string) error {
	off := int64(0)
	for _, x := range w.meta.Layers {
		if x == l {
			break
		}
		off += 4 * sdk.NumElements(w.meta.RowShapes[x])
	}
	per := 4 * sdk.NumElements(w.meta.RowShapes[l])
	for i, c := range w.chunks {
		if len(c.Rows) == 0 {
			continue
		}
		f, err := os.Open(w.chunkName(i, "bin"))
		if err != nil {
			return err
		}
		_, err = io.Copy(dst, io.NewSectionReader(f, off*int64(len(c.Rows)), per*int64(len(c.Rows))))
		f.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

func (w *Writer) index() ([]Row, []Skip) {
	var rows []Row
	for _, c := range w.chunks {
		rows = append(rows, c.Rows...)
	}
	return rows, w.Skipped()
}

func npyHeader(descr string, shape []int64) []byte {
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	s := strings.Join(dims, ", ")
	if len(shape) == 1 {
		s += ","
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, s)
	total := 10 + len(dict) + 1
	pad := (64 - total%64) % 64
	dict += strings.Repeat(" ", pad) + "\n"
	h := []byte("\x93NUMPY\x01\x00")
	h = binary.LittleEndian.AppendUint16(h, uint16(len(dict)))
	return append(h, dict...)
}

func writeStrings(z *zip.Writer, name string, ss []string) error {
	m := 1
	for _, s := range ss {
		m = max(m, utf8.RuneCountInString(s))
	}
	zw, err := z.CreateHeader(&zip.FileHeader{Name: name + ".npy", Method: zip.Store})
	if err != nil {
		return err
	}
	bw := bufio.NewWriter(zw)
	bw.Write(npyHeader(fmt.Sprintf("<U%d", m), []int64{int64(len(ss))}))
	buf := make([]byte, 4)
	for _, s := range ss {
		n := 0
		for _, r := range s {
			binary.LittleEndian.PutUint32(buf, uint32(r))
			bw.Write(buf)
			n++
		}
		for ; n < m; n++ {
			bw.Write([]byte{0, 0, 0, 0})
		}
	}
	return bw.Flush()
}

func (w *Writer) writeNPZ(f io.Writer) error {
	z := zip.NewWriter(f)
	rows, skipped := w.index()
	n := int64(len(rows))
	for _, l := range w.meta.Layers {
		zw, err := z.CreateHeader(&zip.FileHeader{Name: l + ".npy", Method: zip.Store})
		if err != nil {
			return err
		}
		zw.Write(npyHeader("<f4", append([]int64{n}, w.meta.RowShapes[l]...)))
		if err := w.copyLayer(zw, l); err != nil {
			return err
		}
	}
	paths := make([]string, len(rows))
	for i, r := range rows {
		paths[i] = r.Path
	}
	if err := writeStrings(z, "path", paths); err != nil {
		return err
	}
	zw, err := z.CreateHeader(&zip.FileHeader{Name: "label.npy", Method: zip.Store})
	if err != nil {
		return err
	}
	zw.Write(npyHeader("<i8", []int64{n}))
	for _, r := range rows {
		binary.Write(zw, binary.LittleEndian, r.Label)
	}
	for _, c := range []struct {
		name string
		ss   []string
	}{{"classes", w.meta.Classes}, {"model_classes", w.meta.ModelClasses}} {
		if len(c.ss) == 0 {
			continue
		}
		if err := writeStrings(z, c.name, c.ss); err != nil {
			return err
		}
	}
	for _, k := range slices.Sorted(maps.Keys(w.meta.Info)) {
		if err := writeStrings(z, "info_"+k, []string{w.meta.Info[k]}); err != nil {
			return err
		}
	}
	if len(skipped) > 0 {
		sp, se := make([]string, len(skipped)), make([]string, len(skipped))
		for i, s := range skipped {
			sp[i], se[i] = s.Path, s.Error
		}
		if err := writeStrings(z, "skipped_path", sp); err != nil {
			return err
		}
		if err := writeStrings(z, "skipped_error", se); err != nil {
			return err
		}
	}
	return z.Close()
}

func (w *Writer) writeSafetensors(f io.Writer) error {
	rows, skipped := w.index()
	n := int64(len(rows))
	type ent struct {
		DType   string   `json:"dtype"`
		Shape   []int64  `json:"shape"`
		Offsets [2]int64 `json:"data_offsets"`
	}
	header := map[string]any{}
	off := int64(0)
	names := append([]string(nil), w.meta.Layers...)
	for _, l := range names {
		size := 4 * n * sdk.NumElements(w.meta.RowShapes[l])
		header[l] = ent{"F32", append([]int64{n}, w.meta.RowShapes[l]...), [2]int64{off, off + size}}
		off += size
	}
	header["label"] = ent{"I64", []int64{n}, [2]int64{off, off + 8*n}}
	paths := make([]string, len(rows))
	for i, r := range rows {
		paths[i] = r.Path
	}
	pj, _ := json.Marshal(paths)
	md := map[string]string{"paths": string(pj), "format": "gozoo-features"}
	if len(w.meta.Classes) > 0 {
		cj, _ := json.Marshal(w.meta.Classes)
		md["classes"] = string(cj)
	}
	if len(w.meta.ModelClasses) > 0 {
		cj, _ := json.Marshal(w.meta.ModelClasses)
		md["model_classes"] = string(cj)
	}
	for k, v := range w.meta.Info {
		if _, taken := md[k]; !taken {
			md[k] = v
		}
	}
	if len(skipped) > 0 {
		sj, _ := json.Marshal(skipped)
		md["skipped"] = string(sj)
	}
	header["__metadata__"] = md
	hb, err := json.Marshal(header)
	if err != nil {
		return err
	}
	for len(hb)%8 != 0 {
		hb = append(hb, ' ')
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	binary.Write(bw, binary.LittleEndian, uint64(len(hb)))
	bw.Write(hb)
	for _, l := range names {
		if err := w.copyLayer(bw, l); err != nil {
			return err
		}
	}
	for _, r := range rows {
		binary.Write(bw, binary.LittleEndian, r.Label)
	}
	return bw.Flush()
}

func atomicWrite(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return fmt.Errorf("featfile: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if err = errors.Join(err, f.Close()); err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("featfile: %w", err)
	}
	return nil
}
