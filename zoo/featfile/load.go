package featfile

import (
	"archive/zip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/sdk"
)

// File is a feature file read back: the layers asked for, the row index,
// the skipped inputs, the class names and the notes (SetInfo).
type File struct {
	Layers map[string]*sdk.Tensor // [N, ...] float32
	// Names lists the file's layers in the order they were written
	// (every layer, also those not loaded).
	Names        []string
	Paths        []string
	Labels       []int64
	Skipped      []Skip
	Classes      []string
	ModelClasses []string
	Info         map[string]string
}

// Load reads the given layers of a .npz or .safetensors feature file (all
// layers when none are given) with its paths, labels, skipped inputs,
// class names and notes.
func Load(path string, layers ...string) (*File, error) {
	var (
		out *File
		err error
	)
	if strings.HasSuffix(path, ".safetensors") {
		out, err = loadSafetensors(path, layers)
	} else {
		out, err = loadNPZ(path, layers)
	}
	if err != nil {
		return nil, err
	}
	for _, l := range layers {
		if out.Layers[l] == nil {
			return nil, fmt.Errorf("%w: %s holds no layer %q", ErrBadFile, path, l)
		}
	}
	if len(out.Labels) != len(out.Paths) {
		return nil, fmt.Errorf("%w: %s: %d labels for %d paths", ErrBadFile, path, len(out.Labels), len(out.Paths))
	}
	for name, t := range out.Layers {
		if len(t.Shape) == 0 || t.Shape[0] != int64(len(out.Paths)) {
			return nil, fmt.Errorf("%w: %s: layer %q has shape %s for %d rows", ErrBadFile, path, name, sdk.FormatShape(t.Shape), len(out.Paths))
		}
	}
	return out, nil
}

func loadNPZ(path string, layers []string) (*File, error) {
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
	}
	defer z.Close()
	want := map[string]bool{}
	for _, l := range layers {
		want[l] = true
	}
	out := &File{Layers: map[string]*sdk.Tensor{}}
	var skippedPath, skippedErr []string
	for _, f := range z.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if name == "path" || name == "classes" || name == "model_classes" || name == "skipped_path" || name == "skipped_error" || strings.HasPrefix(name, "info_") {
			r, err := f.Open()
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
			}
			b, err := io.ReadAll(io.LimitReader(r, 1<<30))
			r.Close()
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
			}
			ss, err := parseStrings(b)
			if err != nil {
				return nil, fmt.Errorf("%w: %s: %s: %v", ErrBadFile, path, f.Name, err)
			}
			switch name {
			case "path":
				out.Paths = ss
			case "classes":
				out.Classes = ss
			case "model_classes":
				out.ModelClasses = ss
			case "skipped_path":
				skippedPath = ss
			case "skipped_error":
				skippedErr = ss
			default:
				if len(ss) != 1 {
					return nil, fmt.Errorf("%w: %s: %s holds %d strings; want 1", ErrBadFile, path, f.Name, len(ss))
				}
				if out.Info == nil {
					out.Info = map[string]string{}
				}
				out.Info[strings.TrimPrefix(name, "info_")] = ss[0]
			}
			continue
		}
		if name != "label" {
			out.Names = append(out.Names, name)
		}
		if name != "label" && len(want) > 0 && !want[name] {
			continue
		}
		r, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
		}
		t, err := npy.Read(r)
		r.Close()
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, f.Name, err)
		}
		if name == "label" {
			out.Labels = t.Int64
			continue
		}
		if t.DType() != sdk.Float32 {
			return nil, fmt.Errorf("%w: %s: layer %q is %s; feature layers are float32", ErrBadFile, path, name, t.DType())
		}
		out.Layers[name] = t
	}
	if len(skippedPath) != len(skippedErr) {
		return nil, fmt.Errorf("%w: %s: %d skipped paths for %d errors", ErrBadFile, path, len(skippedPath), len(skippedErr))
	}
	for i := range skippedPath {
		out.Skipped = append(out.Skipped, Skip{Path: skippedPath[i], Error: skippedErr[i]})
	}
	return out, nil
}

// safetensorsEntry is one tensor of a safetensors header.
type safetensorsEntry struct {
	DType   string   `json:"dtype"`
	Shape   []int64  `json:"shape"`
	Offsets [2]int64 `json:"data_offsets"`
}

// safetensorsKeys are the metadata keys the writer sets itself; every
// other key is a note (SetInfo).
var safetensorsKeys = map[string]bool{"paths": true, "format": true, "classes": true, "model_classes": true, "skipped": true}

func loadSafetensors(path string, layers []string) (*File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("featfile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("featfile: %w", err)
	}
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s: %s", ErrBadFile, path, fmt.Sprintf(format, args...))
	}
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil || n > 100<<20 || int64(n)+8 > st.Size() {
		return nil, bad("header size")
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, bad("%v", err)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hb, &raw); err != nil {
		return nil, bad("header: %v", err)
	}
	out := &File{Layers: map[string]*sdk.Tensor{}}
	var md map[string]string
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &md); err != nil {
			return nil, bad("metadata: %v", err)
		}
		delete(raw, "__metadata__")
	}
	if md["format"] != "gozoo-features" {
		return nil, bad("not a gozoo feature file (metadata format %q; want gozoo-features)", md["format"])
	}
	for key, dst := range map[string]any{"paths": &out.Paths, "classes": &out.Classes, "model_classes": &out.ModelClasses, "skipped": &out.Skipped} {
		if s, ok := md[key]; ok {
			if err := json.Unmarshal([]byte(s), dst); err != nil {
				return nil, bad("metadata %s: %v", key, err)
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(md)) {
		if !safetensorsKeys[k] {
			if out.Info == nil {
				out.Info = map[string]string{}
			}
			out.Info[k] = md[k]
		}
	}
	data := st.Size() - 8 - int64(n)
	ents := map[string]safetensorsEntry{}
	for name, m := range raw {
		var e safetensorsEntry
		if err := json.Unmarshal(m, &e); err != nil {
			return nil, bad("tensor %q: %v", name, err)
		}
		size := int64(4)
		if e.DType == "I64" {
			size = 8
		}
		if (e.DType != "F32" && e.DType != "I64") || (name == "label") != (e.DType == "I64") {
			return nil, bad("tensor %q is %s; want F32 layers and an I64 label", name, e.DType)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && count > math.MaxInt64/8/d) {
				return nil, bad("tensor %q has shape %v", name, e.Shape)
			}
			count *= d
		}
		if e.Offsets[0] < 0 || e.Offsets[1] > data || e.Offsets[1]-e.Offsets[0] != count*size {
			return nil, bad("tensor %q: offsets %v do not fit shape %v in %d data bytes", name, e.Offsets, e.Shape, data)
		}
		ents[name] = e
		if name != "label" {
			out.Names = append(out.Names, name)
		}
	}
	// Layers were written in order; the header's keys are sorted.
	slices.SortFunc(out.Names, func(a, b string) int { return int(ents[a].Offsets[0] - ents[b].Offsets[0]) })
	want := map[string]bool{}
	for _, l := range layers {
		want[l] = true
	}
	read := func(e safetensorsEntry) ([]byte, error) {
		b := make([]byte, e.Offsets[1]-e.Offsets[0])
		_, err := f.ReadAt(b, 8+int64(n)+e.Offsets[0])
		return b, err
	}
	lab, ok := ents["label"]
	if !ok {
		return nil, bad("no label tensor")
	}
	b, err := read(lab)
	if err != nil {
		return nil, bad("%v", err)
	}
	out.Labels = make([]int64, len(b)/8)
	for i := range out.Labels {
		out.Labels[i] = int64(binary.LittleEndian.Uint64(b[8*i:]))
	}
	for _, name := range out.Names {
		if len(want) > 0 && !want[name] {
			continue
		}
		e := ents[name]
		b, err := read(e)
		if err != nil {
			return nil, bad("%v", err)
		}
		x := make([]float32, len(b)/4)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		t, err := sdk.NewTensor(e.Shape, x)
		if err != nil {
			return nil, bad("tensor %q: %v", name, err)
		}
		out.Layers[name] = t
	}
	return out, nil
}
