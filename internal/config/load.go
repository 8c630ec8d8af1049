package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-viper/mapstructure/v2"
	"github.com/gozoo/gozoo/sdk"
	"github.com/spf13/viper"
	"go.yaml.in/yaml/v3"
)

// ErrInvalid marks every config error; errors.As finds the *Error.
var ErrInvalid = errors.New("config: invalid config")

// Error is a config error at a place: a file and line, or an override.
type Error struct {
	File string // the config file, or "--set KEY=VALUE", or "$VAR"
	Line int    // 0 when unknown
	Key  string // dotted path
	Msg  string // says what is wrong and what to do
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Unwrap makes errors.Is(err, ErrInvalid) true.
func (e *Error) Unwrap() error { return ErrInvalid }

// Loaded is an experiment read from a file with its overrides.
type Loaded struct {
	Experiment
	// File is the config file as given; Dir its absolute folder.
	File, Dir string
	// Source is the file's bytes as read.
	Source []byte
	// Overrides are the --set arguments applied, in order, and Env the
	// environment overrides (NAME=VALUE).
	Overrides, Env []string

	lines map[string]int
}

// Line returns the line of key (a dotted path) in the file, or of its
// nearest parent present there; 0 when none is.
func (l *Loaded) Line(key string) int {
	for key != "" {
		if n, ok := l.lines[key]; ok {
			return n
		}
		i := strings.LastIndexByte(key, '.')
		if i < 0 {
			break
		}
		key = key[:i]
	}
	return 0
}

// Errorf returns an *Error at key's line.
func (l *Loaded) Errorf(key, format string, args ...any) error {
	return &Error{File: l.File, Line: l.Line(key), Key: key, Msg: fmt.Sprintf(format, args...)}
}

// envOverrides are the only environment variables a config reads.
var envOverrides = []struct{ name, key string }{
	{"GOZOO_RUNS_DIR", "runs_dir"},
	{"GOZOO_DEVICE", "device"},
}

// pathKeys hold file paths, made absolute by Load: data.path and
// model.weights against the config's folder (or the working directory
// when an override gave them), runs_dir against the working directory.
var pathKeys = []string{"data.path", "model.weights", "runs_dir"}

// Load reads the config file path, applies GOZOO_RUNS_DIR, GOZOO_DEVICE
// and the --set overrides (KEY=VALUE, VALUE parsed as YAML), fills
// defaults and validates. Paths in the file are made absolute against the
// file's folder, paths in overrides against the working directory.
func Load(path string, overrides []string) (*Loaded, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, &Error{File: path, Msg: fmt.Sprintf("cannot read the config: %v", errors.Unwrap(err))}
	}
	return LoadBytes(path, b, overrides, os.Getenv)
}

// LoadBytes is Load over the bytes b of file path, with getenv for the
// environment (os.Getenv, or a map's lookup in tests).
func LoadBytes(path string, b []byte, overrides []string, getenv func(string) string) (*Loaded, error) {
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	l := &Loaded{File: path, Dir: dir, Source: b, lines: map[string]int{}}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, &Error{File: path, Line: yamlErrLine(err), Msg: "not valid YAML: " + yamlErrMsg(err)}
	}
	if len(doc.Content) == 0 {
		return nil, &Error{File: path, Msg: "the file is empty: start with version: 1 and kind: (extract, probe, finetune or compare)"}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, &Error{File: path, Line: root.Line, Msg: "the config must be a mapping of keys (version:, kind:, model:, ...)"}
	}
	if err := checkNode(root, reflect.TypeOf(Experiment{}), "", l.lines); err != nil {
		err.File = path
		return nil, err
	}
	if _, ok := l.lines["version"]; !ok {
		return nil, &Error{File: path, Line: 1, Key: "version", Msg: fmt.Sprintf("no version: key: add version: %d at the top", Version)}
	}

	v := viper.New()
	v.SetConfigType("yaml")
	def, _ := yaml.Marshal(Default())
	if err := v.ReadConfig(bytes.NewReader(def)); err != nil {
		return nil, fmt.Errorf("config: defaults: %w", err)
	}
	if err := v.MergeConfig(bytes.NewReader(b)); err != nil {
		return nil, &Error{File: path, Msg: "not valid YAML: " + err.Error()}
	}
	fromCwd := map[string]bool{}
	for _, e := range envOverrides {
		if val := getenv(e.name); val != "" {
			v.Set(e.key, val)
			l.Env = append(l.Env, e.name+"="+val)
			fromCwd[e.key] = true
		}
	}
	for _, o := range overrides {
		key, val, err := parseOverride(o)
		if err != nil {
			return nil, err
		}
		v.Set(key, val)
		l.Overrides = append(l.Overrides, o)
		fromCwd[key] = true
	}
	exp := Experiment{}
	if err := v.UnmarshalExact(&exp, func(dc *mapstructure.DecoderConfig) {
		dc.WeaklyTypedInput = false
		dc.ErrorUnused = true
		dc.ZeroFields = true
	}); err != nil {
		return nil, &Error{File: path, Msg: "does not match the schema: " + err.Error()}
	}
	l.Experiment = exp
	if l.Name == "" {
		l.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	for _, k := range pathKeys {
		p := l.pathField(k)
		if *p == "" || filepath.IsAbs(*p) {
			continue
		}
		// runs_dir is an output: relative to the working directory, as
		// Hydra's outputs are; inputs are relative to the file.
		if fromCwd[k] || k == "runs_dir" {
			abs, err := filepath.Abs(*p)
			if err != nil {
				return nil, &Error{File: path, Key: k, Msg: err.Error()}
			}
			*p = abs
		} else {
			*p = filepath.Join(dir, *p)
		}
	}
	if key, msg := l.check(); key != "" {
		return nil, l.errorAt(key, msg)
	}
	if _, err := os.Stat(l.Data.Path); err != nil {
		return nil, l.errorAt("data.path", fmt.Sprintf("data.path %s does not exist: give an image folder, ImageFolder tree, list, IDX or digits.csv.gz file (relative paths are relative to the config's folder)", l.Data.Path))
	}
	if err := l.checkGrid(); err != nil {
		return nil, err
	}
	return l, nil
}

// errorAt places a validation error at the override that set key, or at
// key's line in the file.
func (l *Loaded) errorAt(key, msg string) error {
	for i := len(l.Overrides) - 1; i >= 0; i-- {
		k, _, _ := strings.Cut(l.Overrides[i], "=")
		if k == key || strings.HasPrefix(key, k+".") {
			return &Error{File: "--set " + l.Overrides[i], Key: key, Msg: msg}
		}
	}
	for _, e := range l.Env {
		for _, eo := range envOverrides {
			if strings.HasPrefix(e, eo.name+"=") && eo.key == key {
				return &Error{File: "$" + eo.name, Key: key, Msg: msg}
			}
		}
	}
	return l.Errorf(key, "%s", msg)
}

func (l *Loaded) pathField(k string) *string {
	switch k {
	case "data.path":
		return &l.Data.Path
	case "model.weights":
		return &l.Model.Weights
	default:
		return &l.RunsDir
	}
}

// checkGrid checks each axis key against the schema and each value
// against the key's type.
func (l *Loaded) checkGrid() error {
	if l.Kind != KindCompare {
		return nil
	}
	seen := map[string]bool{}
	for i, ax := range l.Compare.Grid {
		at := fmt.Sprintf("compare.grid.%d", i)
		t, err := schemaType(ax.Key)
		if err != nil {
			return l.Errorf(at+".key", "compare.grid: %s", err.Msg)
		}
		if seen[ax.Key] {
			return l.Errorf(at+".key", "compare.grid sweeps %s twice: join its values in one axis", ax.Key)
		}
		seen[ax.Key] = true
		switch ax.Key {
		case "kind", "version", "runs_dir", "compare", "name":
			return l.Errorf(at+".key", "compare.grid cannot sweep %s", ax.Key)
		}
		if len(ax.Values) == 0 {
			return l.Errorf(at+".values", "compare.grid axis %s has no values", ax.Key)
		}
		for j, val := range ax.Values {
			var n yaml.Node
			if err := n.Encode(val); err != nil {
				return l.Errorf(at+".values", "compare.grid %s value %d: %v", ax.Key, j, err)
			}
			if e := checkNode(&n, t, ax.Key, map[string]int{}); e != nil {
				return l.Errorf(fmt.Sprintf("%s.values.%d", at, j), "compare.grid value %d of %s: %s", j, ax.Key, e.Msg)
			}
		}
	}
	return nil
}

// Trial returns a copy of l with the given key=value settings applied
// (values as a grid holds them), validated as an override would be.
func (l *Loaded) Trial(settings []Setting) (*Loaded, error) {
	var sets []string
	for _, s := range settings {
		var n yaml.Node
		if err := n.Encode(s.Value); err != nil {
			return nil, fmt.Errorf("config: trial value of %s: %w", s.Key, err)
		}
		flow(&n)
		b, err := yaml.Marshal(&n)
		if err != nil {
			return nil, fmt.Errorf("config: trial value of %s: %w", s.Key, err)
		}
		val := strings.TrimSpace(string(b))
		sets = append(sets, s.Key+"="+val)
	}
	base := l.Experiment
	base.Kind = l.Compare.Trial
	base.Compare = Default().Compare
	b, err := Marshal(&base)
	if err != nil {
		return nil, err
	}
	t, err := LoadBytes(filepath.Join(l.Dir, "trial.yaml"), b, sets, func(string) string { return "" })
	if err != nil {
		return nil, err
	}
	t.File = l.File
	return t, nil
}

// flow writes n and its children in YAML's one-line flow style.
func flow(n *yaml.Node) {
	if n.Kind == yaml.SequenceNode || n.Kind == yaml.MappingNode {
		n.Style |= yaml.FlowStyle
	}
	for _, c := range n.Content {
		flow(c)
	}
}

// Setting is one key and value of a trial: value Index of the grid's
// axis Axis.
type Setting struct {
	Key         string
	Value       any
	Axis, Index int
}

// Trials lists the grid's combinations, the last axis varying fastest.
func (e *Experiment) Trials() [][]Setting {
	out := [][]Setting{nil}
	for a, ax := range e.Compare.Grid {
		var next [][]Setting
		for _, prev := range out {
			for i, v := range ax.Values {
				next = append(next, append(append([]Setting(nil), prev...), Setting{Key: ax.Key, Value: v, Axis: a, Index: i}))
			}
		}
		out = next
	}
	return out
}

// Marshal writes e as YAML that Load reads back to the same Experiment.
func Marshal(e *Experiment) ([]byte, error) {
	return yaml.Marshal(e)
}

// parseOverride reads KEY=VALUE and checks it against the schema.
func parseOverride(o string) (string, any, error) {
	key, val, ok := strings.Cut(o, "=")
	key = strings.TrimSpace(key)
	at := "--set " + o
	if !ok || key == "" {
		return "", nil, &Error{File: at, Msg: "want KEY=VALUE, e.g. --set probe.k=10"}
	}
	t, e := schemaType(key)
	if e != nil {
		e.File = at
		return "", nil, e
	}
	var n yaml.Node
	if err := yaml.Unmarshal([]byte(val), &n); err != nil {
		return "", nil, &Error{File: at, Key: key, Msg: "VALUE is not YAML: " + yamlErrMsg(err)}
	}
	node := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: ""}
	if len(n.Content) > 0 {
		node = n.Content[0]
	}
	if e := checkNode(node, t, key, map[string]int{}); e != nil {
		e.File = at
		e.Line = 0
		return "", nil, e
	}
	var v any
	if err := node.Decode(&v); err != nil {
		return "", nil, &Error{File: at, Key: key, Msg: err.Error()}
	}
	return key, v, nil
}

// schemaType returns the type at a dotted key path.
func schemaType(key string) (reflect.Type, *Error) {
	t := reflect.TypeOf(Experiment{})
	parts := strings.Split(key, ".")
	for i, p := range parts {
		parent := strings.Join(parts[:i], ".")
		if !keyRE.MatchString(p) {
			return nil, &Error{Key: key, Msg: fmt.Sprintf("key %q: keys are lower-case [a-z][a-z0-9_]*", key)}
		}
		switch t.Kind() {
		case reflect.Struct:
			f, ok := fieldByKey(t, p)
			if !ok {
				return nil, unknownKey(t, p, parent, key)
			}
			t = f.Type
		case reflect.Map:
			if i != len(parts)-1 {
				return nil, &Error{Key: key, Msg: fmt.Sprintf("%s takes plain values, not %s", parent, key)}
			}
			t = t.Elem()
		default:
			return nil, &Error{Key: key, Msg: fmt.Sprintf("%s is a value, it has no key %q", parent, p)}
		}
	}
	return t, nil
}

var keyRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

func fieldByKey(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if tagName(f) == key {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func keysOf(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		out = append(out, tagName(t.Field(i)))
	}
	sort.Strings(out)
	return out
}

func unknownKey(t reflect.Type, k, parent, full string) *Error {
	where := "at the top level"
	if parent != "" {
		where = "in " + parent
	}
	msg := fmt.Sprintf("unknown key '%s' %s", k, where)
	if s := sdk.Suggest(k, keysOf(t), 1); len(s) > 0 && nearKey(k, s[0]) {
		msg += fmt.Sprintf("; did you mean '%s'?", s[0])
	} else {
		msg += fmt.Sprintf("; valid keys: %s", strings.Join(keysOf(t), ", "))
	}
	return &Error{Key: full, Msg: msg}
}

// nearKey reports whether a suggestion is near enough to be the key meant:
// at most two edits, or a third of the key's length.
func nearKey(a, b string) bool {
	d := levenshtein(a, b)
	return d <= 2 || d <= len(a)/3 || strings.HasPrefix(b, a)
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// checkNode checks a YAML node against type t, recording key lines.
func checkNode(n *yaml.Node, t reflect.Type, path string, lines map[string]int) *Error {
	at := func(msg string) *Error { return &Error{Line: n.Line, Key: path, Msg: msg} }
	name := path
	if name == "" {
		name = "the config"
	}
	if n.Kind == yaml.AliasNode {
		return at(fmt.Sprintf("%s: YAML aliases are not read in configs; write the value out", name))
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return at(fmt.Sprintf("%s has no value: give one or remove the key", name))
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return at(fmt.Sprintf("%s must be a mapping of keys (%s)", name, strings.Join(keysOf(t), ", ")))
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			k := kn.Value
			full := join(path, k)
			if kn.Kind != yaml.ScalarNode || !keyRE.MatchString(k) {
				return &Error{Line: kn.Line, Key: full, Msg: fmt.Sprintf("key %q: keys are lower-case [a-z][a-z0-9_]*; PyTorch names such as layer4.* go in values (model.layers: [layer4])", k)}
			}
			if seen[k] {
				return &Error{Line: kn.Line, Key: full, Msg: fmt.Sprintf("key '%s' appears twice", full)}
			}
			seen[k] = true
			f, ok := fieldByKey(t, k)
			if !ok {
				e := unknownKey(t, k, path, full)
				e.Line = kn.Line
				return e
			}
			lines[full] = kn.Line
			if err := checkNode(vn, f.Type, full, lines); err != nil {
				return err
			}
		}
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return at(fmt.Sprintf("%s must be a mapping of option: value", name))
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			kn, vn := n.Content[i], n.Content[i+1]
			full := join(path, kn.Value)
			if kn.Kind != yaml.ScalarNode || !keyRE.MatchString(kn.Value) {
				return &Error{Line: kn.Line, Key: full, Msg: fmt.Sprintf("key %q in %s: keys are lower-case [a-z][a-z0-9_]*", kn.Value, name)}
			}
			lines[full] = kn.Line
			if vn.Kind != yaml.ScalarNode || vn.Tag == "!!null" {
				return &Error{Line: vn.Line, Key: full, Msg: fmt.Sprintf("%s must be a plain value (a number, string or boolean)", full)}
			}
		}
		return nil
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			hint := ""
			if n.Kind == yaml.ScalarNode && strings.Contains(n.Value, ",") {
				hint = fmt.Sprintf(" (write [%s], not one string)", n.Value)
			}
			return at(fmt.Sprintf("%s must be a list%s", name, hint))
		}
		for i, c := range n.Content {
			p := fmt.Sprintf("%s.%d", path, i)
			lines[p] = c.Line
			if t.Elem().Kind() == reflect.Interface {
				continue
			}
			if err := checkNode(c, t.Elem(), p, lines); err != nil {
				return err
			}
		}
		return nil
	case reflect.Interface:
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return at(fmt.Sprintf("%s must be a single %s", name, typeWord(t)))
	}
	ok := false
	switch t.Kind() {
	case reflect.String:
		ok = n.Tag == "!!str"
	case reflect.Bool:
		ok = n.Tag == "!!bool"
	case reflect.Int, reflect.Int64:
		ok = n.Tag == "!!int"
		if ok {
			if _, err := strconv.ParseInt(n.Value, 0, 64); err != nil {
				return at(fmt.Sprintf("%s: %s does not fit a 64-bit integer", name, n.Value))
			}
		}
	case reflect.Float64:
		ok = n.Tag == "!!int" || n.Tag == "!!float"
	}
	if !ok {
		hint := ""
		if n.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0 {
			hint = "; drop the quotes"
		} else if t.Kind() == reflect.String {
			hint = fmt.Sprintf("; quote it: \"%s\"", n.Value)
		}
		return at(fmt.Sprintf("%s must be %s, not %s %q%s", name, typeWord(t), tagWord(n.Tag), n.Value, hint))
	}
	return nil
}

func join(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func typeWord(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	}
	return t.String()
}

func tagWord(tag string) string {
	switch tag {
	case "!!str":
		return "the string"
	case "!!int":
		return "the integer"
	case "!!float":
		return "the number"
	case "!!bool":
		return "the boolean"
	}
	return "the value"
}

var yamlLineRE = regexp.MustCompile(`line (\d+)`)

func yamlErrLine(err error) int {
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

func yamlErrMsg(err error) string {
	s := strings.TrimPrefix(err.Error(), "yaml: ")
	return yamlLineRE.ReplaceAllString(s, "")
}
