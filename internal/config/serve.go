package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// ServeList is a model list for `gozoo serve --config`. Field tags name the
// YAML keys.
type ServeList struct {
	Version int          `yaml:"version"`
	Models  []ServeModel `yaml:"models"`
}

// ServeModel is one served model: a catalog model (Model), an arch with
// optional weights, plugin and options (Arch), or an .onnx file (ONNX).
// Zero numbers and an empty MaxDelay take gozoo serve's flag defaults.
type ServeModel struct {
	// Name is the model's name in URLs (default: the catalog name, the
	// arch, or the .onnx file's base name).
	Name    string         `yaml:"name"`
	Model   string         `yaml:"model"`
	Arch    string         `yaml:"arch"`
	Weights string         `yaml:"weights"`
	Plugin  string         `yaml:"plugin"`
	Options map[string]any `yaml:"options"`
	ONNX    string         `yaml:"onnx"`
	// Outputs are the layers the model exposes (default: every layer
	// whose first dimension is the batch).
	Outputs   []string `yaml:"outputs"`
	Instances int      `yaml:"instances"`
	Threads   int      `yaml:"threads"`
	MaxBatch  int      `yaml:"max_batch"`
	// MaxDelay is a Go duration such as 2ms.
	MaxDelay string `yaml:"max_delay"`
	Queue    int    `yaml:"queue"`

	// Delay is MaxDelay parsed; Line the model's line in the file.
	Delay time.Duration `yaml:"-"`
	Line  int           `yaml:"-"`
}

// LoadedServe is a model list read from a file.
type LoadedServe struct {
	ServeList
	File  string
	lines map[string]int
}

// Errorf returns an *Error at key's line (key a dotted path such as
// models.1.arch).
func (l *LoadedServe) Errorf(key, format string, args ...any) error {
	line := 0
	for k := key; k != ""; {
		if n, ok := l.lines[k]; ok {
			line = n
			break
		}
		i := strings.LastIndexByte(k, '.')
		if i < 0 {
			break
		}
		k = k[:i]
	}
	return &Error{File: l.File, Line: line, Key: key, Msg: fmt.Sprintf(format, args...)}
}

// LoadServe reads a serve model list. It is as strict as Load: unknown
// keys (with the nearest valid key suggested), wrong types, a model that
// names none or several of model, arch and onnx, and two models of one
// name are errors at their file and line. Weights and onnx paths are made
// absolute against the file's folder.
func LoadServe(path string) (*LoadedServe, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read the model list: %v", errors.Unwrap(err))}
	}
	return LoadServeBytes(path, b)
}

// LoadServeBytes is LoadServe over the bytes b of file path.
func LoadServeBytes(path string, b []byte) (*LoadedServe, error) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	l := &LoadedServe{File: path, lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &Error{File: path, Line: yamlErrLine(err), Msg: "not valid YAML: " + yamlErrMsg(err)}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: path, Msg: fmt.Sprintf("the file is empty: start with version: %d and models: (a list of name:, model: or arch: or onnx:)", Version)}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: path, Line: root.Line, Msg: "the model list must be a mapping of keys (version:, models:)"}
	}
	if err := checkNode(root, reflect.TypeOf(ServeList{}), "", l.lines); err != nil {
		err.File = path
		return nil, err
	}
	if _, ok := l.lines["version"]; !ok {
		return nil, &Error{File: path, Line: 1, Key: "version", Msg: fmt.Sprintf("no version: key: add version: %d at the top", Version)}
	}
	if err := root.Decode(&l.ServeList); err != nil {
		return nil, &Error{File: path, Msg: "does not match the schema: " + yamlErrMsg(err)}
	}
	if l.Version != Version {
		return nil, l.Errorf("version", "version %d: this gozoo reads version %d", l.Version, Version)
	}
	if len(l.Models) == 0 {
		return nil, l.Errorf("models", "no models: list them under models: (each with model:, arch: or onnx:)")
	}
	names := map[string]string{}
	for i := range l.Models {
		m := &l.Models[i]
		key := fmt.Sprintf("models.%d", i)
		m.Line = l.lines[key]
		var given []string
		for _, s := range []struct{ k, v string }{{"model", m.Model}, {"arch", m.Arch}, {"onnx", m.ONNX}} {
			if s.v != "" {
				given = append(given, s.k)
			}
		}
		switch {
		case len(given) == 0:
			return nil, l.Errorf(key, "model %d names no model: give model: (a catalog name), arch: or onnx:", i+1)
		case len(given) > 1:
			return nil, l.Errorf(key+"."+given[1], "model %d gives %s: give one of them", i+1, strings.Join(given, " and "))
		}
		if m.Arch == "" {
			for _, s := range []struct {
				k   string
				set bool
			}{{"weights", m.Weights != ""}, {"plugin", m.Plugin != ""}, {"options", len(m.Options) > 0}} {
				if s.set {
					return nil, l.Errorf(key+"."+s.k, "%s goes with arch:; %s sets its own", s.k, given[0])
				}
			}
		}
		for _, s := range []struct {
			k string
			v int
		}{{"instances", m.Instances}, {"threads", m.Threads}, {"max_batch", m.MaxBatch}, {"queue", m.Queue}} {
			if s.v < 0 {
				return nil, l.Errorf(key+"."+s.k, "%s %d: want a positive number (or leave it out for the default)", s.k, s.v)
			}
		}
		if m.MaxDelay != "" {
			d, err := time.ParseDuration(m.MaxDelay)
			if err != nil || d < 0 {
				return nil, l.Errorf(key+".max_delay", "max_delay %q: want a duration such as 2ms or 0s", m.MaxDelay)
			}
			m.Delay = d
		}
		for _, p := range []*string{&m.Weights, &m.ONNX} {
			if *p != "" && !filepath.IsAbs(*p) {
				*p = filepath.Join(dir, *p)
			}
		}
		name := m.Name
		switch {
		case name != "":
		case m.Model != "":
			name = m.Model
		case m.Arch != "":
			name = m.Arch
		default:
			name = strings.TrimSuffix(filepath.Base(m.ONNX), filepath.Ext(m.ONNX))
		}
		m.Name = name
		if prev, dup := names[name]; dup {
			return nil, l.Errorf(key, "two models are named %s (%s and this one): give each a distinct name:", name, prev)
		}
		names[name] = fmt.Sprintf("%s:%d", path, m.Line)
	}
	return l, nil
}
