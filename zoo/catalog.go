package zoo

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/imageproc"
	"go.yaml.in/yaml/v3"
)

// Errors of the catalog and the cache.
var (
	// ErrUnknownModel reports a name the catalog does not hold.
	ErrUnknownModel = errors.New("zoo: unknown model")
	// ErrBadCatalog reports a catalog file that does not parse or has an
	// invalid entry.
	ErrBadCatalog = errors.New("zoo: bad catalog")
	// ErrChecksum reports weights whose sha256 differs from the catalog's.
	ErrChecksum = errors.New("zoo: checksum mismatch")
	// ErrOffline reports weights missing from the cache in offline mode.
	ErrOffline = errors.New("zoo: offline")
)

// Entry is one named model.
type Entry struct {
	Name    string            `yaml:"name"`
	Plugin  string            `yaml:"plugin"`
	Arch    string            `yaml:"arch"`
	Options map[string]string `yaml:"options,omitempty"`
	Doc     string            `yaml:"doc,omitempty"`
	Weights Weights           `yaml:"weights"`
	// Preprocess is the eval transform the weights expect.
	Preprocess Preprocess `yaml:"preprocess"`
	// Layer is the default feature layer.
	Layer string `yaml:"layer"`
	// Classes names the classifier's outputs in index order; ClassSet
	// names an embedded list instead (see ClassSet). At most one is set.
	Classes  []string           `yaml:"classes,omitempty,flow"`
	ClassSet string             `yaml:"class_set,omitempty"`
	License  string             `yaml:"license,omitempty"`
	Metrics  map[string]float64 `yaml:"metrics,omitempty"`
	// Precision is fp32 (or empty) or int8. An int8 entry names a
	// quantized .onnx file (gozoo quantize) served by the onnx plugin
	// (plugin: onnx, arch: onnx, weights format onnx) and records how it
	// was calibrated.
	Precision   string       `yaml:"precision,omitempty"`
	Calibration *Calibration `yaml:"calibration,omitempty"`
	// Source is the catalog the entry came from ("embedded" or a path).
	Source string `yaml:"-"`
}

// Weights says where an entry's checkpoint comes from and how to check it.
// Exactly one of URL, Path and Embedded is set.
type Weights struct {
	URL string `yaml:"url,omitempty"`
	// Path is a local file; relative paths are relative to the catalog.
	Path string `yaml:"path,omitempty"`
	// Embedded names a file embedded in gozoo (zoo/models).
	Embedded string `yaml:"embedded,omitempty"`
	// Format is pth, safetensors or onnx (default: from the file name).
	Format string `yaml:"format,omitempty"`
	// SHA256 is the full hex digest; HashPrefix is torchvision's digest
	// prefix (the hex in "resnet50-0676ba61.pth"). One is required.
	SHA256     string `yaml:"sha256,omitempty"`
	HashPrefix string `yaml:"hash_prefix,omitempty"`
	Size       int64  `yaml:"size,omitempty"`
}

// FileName is the name the weights have in the cache.
func (w Weights) FileName() string {
	switch {
	case w.URL != "":
		u := w.URL
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			u = u[:i]
		}
		return filepath.Base(u)
	case w.Embedded != "":
		return filepath.Base(w.Embedded)
	}
	return filepath.Base(w.Path)
}

// FormatOf returns Format, or the format the file name implies.
func (w Weights) FormatOf() sdk.WeightsFormat {
	if w.Format != "" {
		return sdk.WeightsFormat(w.Format)
	}
	if strings.HasSuffix(w.FileName(), ".safetensors") {
		return sdk.FormatSafetensors
	}
	if strings.HasSuffix(w.FileName(), ".onnx") {
		return sdk.FormatONNX
	}
	return sdk.FormatPTH
}

// Preprocess is an entry's eval transform, as torchvision describes it.
type Preprocess struct {
	Resize        int       `yaml:"resize" json:"resize"`
	Crop          Size      `yaml:"crop,flow" json:"crop"` // [size] or [height, width]
	Interpolation string    `yaml:"interpolation" json:"interpolation"`
	Mean          []float32 `yaml:"mean,flow" json:"mean"`
	Std           []float32 `yaml:"std,flow" json:"std"`
	// Grayscale converts images to luminance replicated to three channels.
	Grayscale bool `yaml:"grayscale,omitempty" json:"grayscale,omitempty"`
	MinSide   int  `yaml:"min_side,omitempty" json:"min_side,omitempty"`
}

// String describes p as torchvision's transforms.
func (p Preprocess) String() string {
	crop := fmt.Sprint(p.Crop)
	if len(p.Crop) == 1 {
		crop = fmt.Sprint(p.Crop[0])
	}
	s := fmt.Sprintf("Resize(%d, %s) CenterCrop(%s) Normalize(mean=%v, std=%v)", p.Resize, p.Interpolation, crop, p.Mean, p.Std)
	if p.Grayscale {
		s = "Grayscale(3) " + s
	}
	return s
}

// Size is a crop size: one number (square) or [height, width].
type Size []int

// UnmarshalYAML accepts a single number or a list.
func (s *Size) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		var c int
		if err := n.Decode(&c); err != nil {
			return err
		}
		*s = Size{c}
		return nil
	}
	var l []int
	if err := n.Decode(&l); err != nil {
		return err
	}
	*s = l
	return nil
}

// Transform returns the imageproc transform p describes.
func (p Preprocess) Transform() (imageproc.Transform, error) {
	t := imageproc.ImageNet()
	if p.Resize < 0 {
		return t, fmt.Errorf("resize %d: must be positive", p.Resize)
	}
	t.ResizeSize = p.Resize
	switch len(p.Crop) {
	case 0:
		return t, errors.New("crop is required (crop: 224 or crop: [H, W])")
	case 1:
		t.CropH, t.CropW = p.Crop[0], p.Crop[0]
	case 2:
		t.CropH, t.CropW = p.Crop[0], p.Crop[1]
	default:
		return t, fmt.Errorf("crop %v: give one size or [H, W]", p.Crop)
	}
	in, err := imageproc.ParseInterpolation(p.Interpolation)
	if err != nil {
		return t, err
	}
	t.Interp = in
	if p.Mean != nil {
		if len(p.Mean) != 3 {
			return t, fmt.Errorf("mean %v: give three channel values", p.Mean)
		}
		t.Mean = [3]float32(p.Mean)
	}
	if p.Std != nil {
		if len(p.Std) != 3 {
			return t, fmt.Errorf("std %v: give three channel values", p.Std)
		}
		t.Std = [3]float32(p.Std)
	}
	t.Grayscale = p.Grayscale
	if p.MinSide > 0 {
		t.MinSide = p.MinSide
	}
	return t, t.Validate()
}

// ImageNetPreprocess is torchvision's ImageNet eval transform: Resize 256
// bilinear, CenterCrop 224, ImageNet mean and std.
func ImageNetPreprocess() Preprocess {
	return Preprocess{Resize: 256, Crop: Size{224}, Interpolation: "bilinear",
		Mean: imageproc.ImageNetMean[:], Std: imageproc.ImageNetStd[:]}
}

// Catalog is a set of named entries. Build one with Default or New and
// Merge; it is safe for concurrent reads once built.
type Catalog struct {
	entries map[string]*Entry
}

//go:embed catalog/*.yaml
var embeddedCatalogs embed.FS

//go:embed models/*.pth
var embeddedModels embed.FS

// New returns an empty catalog.
func New() *Catalog { return &Catalog{entries: map[string]*Entry{}} }

// Default returns the catalog embedded in gozoo.
func Default() (*Catalog, error) {
	c := New()
	files, err := embeddedCatalogs.ReadDir("catalog")
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		b, err := embeddedCatalogs.ReadFile("catalog/" + f.Name())
		if err != nil {
			return nil, err
		}
		if err := c.Merge(bytes.NewReader(b), "embedded:"+f.Name()); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// UserCatalogPath is the user's catalog: $XDG_CONFIG_HOME/gozoo/zoo.yaml,
// or ~/.config/gozoo/zoo.yaml. It may not exist.
func UserCatalogPath() string {
	dir, err := os.UserConfigDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "gozoo", "zoo.yaml")
}

// MergeFile merges the catalog file at path; relative weight paths in it
// become relative to the file's folder.
func (c *Catalog) MergeFile(path string) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("read catalog: %w", err)
	}
	return c.Merge(bytes.NewReader(b), path)
}

type catalogFile struct {
	Models []*Entry `yaml:"models"`
}

// Merge reads a YAML catalog ("models: [entries]") from r and adds its
// entries, replacing entries of the same name. source names r in errors
// and in Entry.Source; when it is a file path, relative weight paths are
// resolved against its folder.
func (c *Catalog) Merge(r io.Reader, source string) error {
	dec := yaml.NewDecoder(io.LimitReader(r, 16<<20))
	dec.KnownFields(true)
	var f catalogFile
	if err := dec.Decode(&f); err != nil && err != io.EOF {
		return fmt.Errorf("%w: %s: %v (see gozoo zoo show resnet50.tv_in1k for the format)", ErrBadCatalog, source, err)
	}
	seen := map[string]bool{}
	for i, e := range f.Models {
		if e == nil {
			return fmt.Errorf("%w: %s: models[%d] is empty", ErrBadCatalog, source, i)
		}
		if err := e.validate(); err != nil {
			return fmt.Errorf("%w: %s: models[%d] %q: %v", ErrBadCatalog, source, i, e.Name, err)
		}
		if seen[e.Name] {
			return fmt.Errorf("%w: %s: model %q is defined twice", ErrBadCatalog, source, e.Name)
		}
		seen[e.Name] = true
		e.Source = source
		if e.Weights.Path != "" && !filepath.IsAbs(e.Weights.Path) && !strings.HasPrefix(source, "embedded:") {
			e.Weights.Path = filepath.Join(filepath.Dir(source), e.Weights.Path)
		}
	}
	for _, e := range f.Models {
		c.entries[e.Name] = e
	}
	return nil
}

func (e *Entry) validate() error {
	switch {
	case e.Name == "" || strings.ContainsAny(e.Name, " \t/\\"):
		return errors.New("name is required and has no spaces or slashes")
	case e.Plugin == "":
		return errors.New("plugin is required")
	case e.Arch == "":
		return errors.New("arch is required")
	}
	w := e.Weights
	n := 0
	for _, s := range []string{w.URL, w.Path, w.Embedded} {
		if s != "" {
			n++
		}
	}
	if n != 1 {
		return errors.New("weights needs exactly one of url, path and embedded")
	}
	if w.SHA256 == "" && w.HashPrefix == "" {
		return errors.New("weights needs sha256 (or torchvision's hash_prefix) so that downloads can be verified")
	}
	for _, h := range []string{w.SHA256, w.HashPrefix} {
		if strings.Trim(strings.ToLower(h), "0123456789abcdef") != "" {
			return fmt.Errorf("weights hash %q is not hexadecimal", h)
		}
	}
	if w.SHA256 != "" && len(w.SHA256) != 64 {
		return fmt.Errorf("weights sha256 %q has %d hex digits; want 64", w.SHA256, len(w.SHA256))
	}
	if w.HashPrefix != "" && len(w.HashPrefix) < 8 {
		return fmt.Errorf("weights hash_prefix %q is shorter than 8 hex digits", w.HashPrefix)
	}
	switch w.Format {
	case "", "pth", "safetensors", "onnx":
	default:
		return fmt.Errorf("weights format %q: use pth, safetensors or onnx", w.Format)
	}
	if err := checkPrecision(e.Precision, e.Calibration); err != nil {
		return err
	}
	onnx := w.FormatOf() == sdk.FormatONNX
	switch {
	case e.Precision == PrecisionInt8 && (e.Plugin != "onnx" || e.Arch != "onnx" || !onnx):
		return fmt.Errorf("precision int8 with plugin %s, arch %s and %s weights: an int8 model is a quantized .onnx file: give plugin: onnx, arch: onnx and the .onnx file", e.Plugin, e.Arch, w.FormatOf())
	case onnx && e.Plugin != "onnx":
		return fmt.Errorf("weights are an .onnx file but plugin is %s: .onnx files run on plugin onnx (arch onnx)", e.Plugin)
	}
	if _, err := e.Preprocess.Transform(); err != nil {
		return fmt.Errorf("preprocess: %v", err)
	}
	if len(e.Classes) > 0 && e.ClassSet != "" {
		return errors.New("give classes or class_set, not both")
	}
	classes, err := e.ClassNames()
	if err != nil {
		return err
	}
	if err := checkClasses(classes); err != nil {
		return err
	}
	if n, ok := e.Options["num_classes"]; ok && len(classes) > 0 && n != fmt.Sprint(len(classes)) {
		return fmt.Errorf("num_classes %s but %d classes", n, len(classes))
	}
	return nil
}

// Lookup returns the entry called name. An unknown name gives an error
// wrapping ErrUnknownModel with the closest names.
func (c *Catalog) Lookup(name string) (*Entry, error) {
	if e, ok := c.entries[name]; ok {
		return e, nil
	}
	names := c.Names()
	hint := "gozoo zoo list shows them"
	if s := sdk.Suggest(name, names, 3); len(s) > 0 {
		hint = "did you mean " + strings.Join(s, ", ") + "? (gozoo zoo list shows all)"
	}
	return nil, fmt.Errorf("%w %q: %s", ErrUnknownModel, name, hint)
}

// Names returns the entry names, sorted.
func (c *Catalog) Names() []string {
	names := make([]string, 0, len(c.entries))
	for n := range c.entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Entries returns the entries sorted by name.
func (c *Catalog) Entries() []*Entry {
	out := make([]*Entry, 0, len(c.entries))
	for _, n := range c.Names() {
		out = append(out, c.entries[n])
	}
	return out
}

// Marshal returns e as a YAML catalog entry.
func (e *Entry) Marshal() ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	err := enc.Encode(e)
	return buf.Bytes(), err
}

// LoadPreprocess reads a preprocessing YAML file: the keys of a catalog
// entry's preprocess block (resize, crop, interpolation, mean, std,
// grayscale, min_side). Unset keys keep torchvision's ImageNet defaults.
func LoadPreprocess(path string) (Preprocess, error) {
	p := ImageNetPreprocess()
	b, err := os.ReadFile(path)
	if err != nil {
		return p, fmt.Errorf("preprocess: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&p); err != nil && err != io.EOF {
		return p, fmt.Errorf("preprocess %s: %w (keys: resize, crop, interpolation, mean, std, grayscale, min_side)", path, err)
	}
	if _, err := p.Transform(); err != nil {
		return p, fmt.Errorf("preprocess %s: %w", path, err)
	}
	return p, nil
}

// DefaultModel is the catalog entry gozoo extract uses when no model is
// named: a small ResNet-18 (base width 8) that gozoo trained on
// Fashion-MNIST, whose weights are embedded in gozoo, so it runs offline.
const DefaultModel = "resnet18_w8.gozoo_fmnist"
