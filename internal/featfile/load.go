package featfile

import (
	"archive/zip"
	"fmt"
	"io"
	"strings"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/sdk"
)

// File is a .npz feature file read back: the layers asked for, the row
// index and the class names.
type File struct {
	Layers       map[string]*sdk.Tensor // [N, ...] float32
	Paths        []string
	Labels       []int64
	Classes      []string
	ModelClasses []string
}

// Load reads the given layers of a .npz feature file (all layers when
// none are given) with its paths, labels and class names.
func Load(path string, layers ...string) (*File, error) {
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
	for _, f := range z.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		switch name {
		case "path", "classes", "model_classes", "skipped_path", "skipped_error":
			if name == "skipped_path" || name == "skipped_error" {
				continue
			}
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
			default:
				out.ModelClasses = ss
			}
			continue
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
		out.Layers[name] = t
	}
	for _, l := range layers {
		if out.Layers[l] == nil {
			return nil, fmt.Errorf("%w: %s holds no layer %q", ErrBadFile, path, l)
		}
	}
	if len(out.Labels) != len(out.Paths) {
		return nil, fmt.Errorf("%w: %s: %d labels for %d paths", ErrBadFile, path, len(out.Labels), len(out.Paths))
	}
	return out, nil
}
