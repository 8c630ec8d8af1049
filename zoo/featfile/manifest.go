package featfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// ManifestFormat names the manifest's format and version.
const ManifestFormat = "gozoo-features-manifest/1"

// ErrBadManifest reports a manifest that does not parse or whose shards
// do not cover its inputs exactly once.
var ErrBadManifest = errors.New("featfile: bad manifest")

// Manifest indexes the shards of one extraction split across workers
// (gozoo-beam writes one): which inputs each shard covers, its rows and
// the inputs it skipped. Inputs are numbered 0..Inputs-1 in input order;
// each shard covers a contiguous range of them, and the shards together
// cover every input exactly once, so joining them in Start order gives
// the rows in input order (see Merge).
type Manifest struct {
	Format string   `json:"format"`
	Layers []string `json:"layers"`
	// Inputs is the number of inputs listed, Rows the feature rows
	// written and Skipped the inputs that produced none.
	Inputs  int `json:"inputs"`
	Rows    int `json:"rows"`
	Skipped int `json:"skipped"`
	// Info holds notes on the run (model, transform, runner).
	Info   map[string]string `json:"info,omitempty"`
	Shards []ManifestShard   `json:"shards"`
}

// ManifestShard is one shard of a Manifest.
type ManifestShard struct {
	// File is the shard's feature file, relative to the manifest's
	// folder; empty when every input of the shard was skipped.
	File string `json:"file,omitempty"`
	// Start is the input position of the shard's first input; it covers
	// Inputs inputs, of which Rows have a feature row and Skipped none.
	Start   int    `json:"start"`
	Inputs  int    `json:"inputs"`
	Rows    int    `json:"rows"`
	Skipped []Skip `json:"skipped,omitempty"`
}

// Check sorts m's shards by Start and verifies that they cover inputs
// 0..Inputs-1 exactly once and that the counts add up. Errors match
// ErrBadManifest and name the first gap or overlap.
func (m *Manifest) Check() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadManifest, fmt.Sprintf(format, args...))
	}
	if m.Format != ManifestFormat {
		return bad("format %q; want %q", m.Format, ManifestFormat)
	}
	if len(m.Layers) == 0 {
		return bad("no layers")
	}
	slices.SortStableFunc(m.Shards, func(a, b ManifestShard) int { return a.Start - b.Start })
	next, rows, skipped := 0, 0, 0
	files := map[string]bool{}
	for _, s := range m.Shards {
		switch {
		case s.Start > next:
			return bad("inputs %d..%d are in no shard", next, s.Start-1)
		case s.Start < next:
			return bad("input %d is in two shards (the one starting at %d and an earlier one)", s.Start, s.Start)
		case s.Inputs <= 0 || s.Rows < 0 || s.Rows+len(s.Skipped) != s.Inputs:
			return bad("shard at %d covers %d inputs with %d rows and %d skipped", s.Start, s.Inputs, s.Rows, len(s.Skipped))
		case (s.File == "") != (s.Rows == 0):
			return bad("shard at %d has %d rows and file %q", s.Start, s.Rows, s.File)
		case s.File != "" && (filepath.IsAbs(s.File) || strings.Contains(s.File, "..") || strings.ContainsAny(s.File, `/\`)):
			return bad("shard file %q is not a name in the manifest's folder", s.File)
		case files[s.File] && s.File != "":
			return bad("shard file %q is listed twice", s.File)
		}
		files[s.File] = true
		next += s.Inputs
		rows += s.Rows
		skipped += len(s.Skipped)
	}
	if next != m.Inputs {
		return bad("the shards cover %d of %d inputs", next, m.Inputs)
	}
	if rows != m.Rows || skipped != m.Skipped {
		return bad("the shards hold %d rows and %d skipped; the manifest says %d and %d", rows, skipped, m.Rows, m.Skipped)
	}
	return nil
}

// ParseManifest reads a manifest from b and checks it (see Check).
func ParseManifest(b []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadManifest, err)
	}
	if err := m.Check(); err != nil {
		return nil, err
	}
	return &m, nil
}

// ReadManifest reads and checks the manifest at path.
func ReadManifest(path string) (*Manifest, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("featfile: %w", err)
	}
	m, err := ParseManifest(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// Marshal returns m as indented JSON.
func (m *Manifest) Marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
