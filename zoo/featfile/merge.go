package featfile

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// MergeResult counts what Merge wrote.
type MergeResult struct {
	Files   int // feature files joined
	Rows    int
	Skipped int
}

// part is one piece of a merge: a feature file, or the inputs of a
// manifest shard that produced no row.
type part struct {
	file    string
	rows    int // expected rows, or -1 when unknown
	skipped []Skip
	fromMan bool // skipped comes from the manifest
}

// Merge joins feature files into out (.npz or .safetensors) in the order
// given: their rows, then their skipped inputs, in that order. Every file
// must hold the same layers with the same row shapes, classes and notes.
// Like a Writer's output, out appears only when complete, and a killed
// Merge run again with the same inputs resumes after the last file done.
func Merge(out string, files []string) (*MergeResult, error) {
	if len(files) == 0 {
		return nil, errors.New("featfile: merge: no files")
	}
	parts := make([]part, len(files))
	for i, f := range files {
		parts[i] = part{file: f, rows: -1}
	}
	return merge(out, parts, nil, "files "+strings.Join(files, ","))
}

// MergeManifest joins the shards a manifest lists (see Manifest) into
// out in input order, with the skipped inputs of every shard; it checks
// that the shards cover the inputs exactly once and that each shard file
// holds the rows the manifest says.
func MergeManifest(out, manifest string) (*MergeResult, error) {
	m, err := ReadManifest(manifest)
	if err != nil {
		return nil, err
	}
	dir := filepath.Dir(manifest)
	var parts []part
	for _, s := range m.Shards {
		p := part{rows: s.Rows, skipped: s.Skipped, fromMan: true}
		if s.File != "" {
			p.file = filepath.Join(dir, s.File)
		}
		parts = append(parts, p)
	}
	sum, err := fileSHA256(manifest)
	if err != nil {
		return nil, err
	}
	return merge(out, parts, m.Layers, "manifest "+manifest+" sha256 "+sum)
}

func merge(out string, parts []part, layers []string, source string) (*MergeResult, error) {
	// The first file fixes the layers, classes and notes.
	var first *File
	for _, p := range parts {
		if p.file == "" {
			continue
		}
		f, err := Load(p.file)
		if err != nil {
			return nil, err
		}
		first = f
		break
	}
	if first == nil {
		return nil, fmt.Errorf("featfile: merge: no rows to write to %s (every input was skipped)", out)
	}
	if layers == nil {
		layers = first.Names
	}
	if !slices.Equal(first.Names, layers) {
		return nil, fmt.Errorf("%w: shard layers %s; the manifest says %s", ErrBadFile, strings.Join(first.Names, ","), strings.Join(layers, ","))
	}
	w, err := Open(out, Run{"merge": source}, layers)
	if err != nil {
		return nil, err
	}
	res := &MergeResult{}
	for i := w.Next(); i < len(parts); i++ {
		p := parts[i]
		var rows []Row
		feats := map[string]*sdk.Tensor{}
		skipped := p.skipped
		if p.file != "" {
			f, err := Load(p.file)
			if err != nil {
				return nil, err
			}
			if err := sameKind(first, f, p.file); err != nil {
				return nil, err
			}
			if p.rows >= 0 && len(f.Paths) != p.rows {
				return nil, fmt.Errorf("%w: %s holds %d rows; the manifest says %d", ErrBadFile, p.file, len(f.Paths), p.rows)
			}
			if p.fromMan && len(f.Skipped) != len(p.skipped) {
				return nil, fmt.Errorf("%w: %s lists %d skipped inputs; the manifest says %d", ErrBadFile, p.file, len(f.Skipped), len(p.skipped))
			}
			if !p.fromMan {
				skipped = f.Skipped
			}
			for j, path := range f.Paths {
				rows = append(rows, Row{Path: path, Label: f.Labels[j]})
			}
			feats = f.Layers
			res.Files++
		}
		if len(rows) == 0 && len(skipped) == 0 {
			continue
		}
		if err := w.Append(rows, feats, skipped, i+1); err != nil {
			return nil, fmt.Errorf("merge %s: %w", p.file, err)
		}
	}
	w.SetClasses(first.Classes, first.ModelClasses)
	w.SetInfo(first.Info)
	res.Rows, res.Skipped = w.Rows(), len(w.Skipped())
	if err := w.Finish(); err != nil {
		return nil, err
	}
	return res, nil
}

// sameKind reports how f differs from first in what every file of a merge
// shares.
func sameKind(first, f *File, path string) error {
	diff := func(what string, a, b any) error {
		return fmt.Errorf("%w: %s: %s %v; the first file has %v: merge only files of one run", ErrBadFile, path, what, b, a)
	}
	if !slices.Equal(first.Names, f.Names) {
		return diff("layers", first.Names, f.Names)
	}
	for _, l := range first.Names {
		if !slices.Equal(first.Layers[l].Shape[1:], f.Layers[l].Shape[1:]) {
			return diff("layer "+strconv.Quote(l)+" row shape", first.Layers[l].Shape[1:], f.Layers[l].Shape[1:])
		}
	}
	if !slices.Equal(first.Classes, f.Classes) {
		return diff("classes", first.Classes, f.Classes)
	}
	if !slices.Equal(first.ModelClasses, f.ModelClasses) {
		return diff("model classes", first.ModelClasses, f.ModelClasses)
	}
	if !maps.Equal(first.Info, f.Info) {
		return diff("notes", first.Info, f.Info)
	}
	return nil
}

// fileSHA256 returns the hex sha256 of the file at path.
func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("featfile: %w", err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("featfile: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
