package backbone

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
)

// Kind is the type of an option's value.
type Kind int

// Option kinds. String values are free text the family parses itself
// (e.g. "16:32" for a list of widths).
const (
	String Kind = iota
	Int
	Bool
	Float
)

// Option is one architecture option, such as num_classes.
type Option struct {
	Name    string
	Kind    Kind
	Default string
	Usage   string
	// Min and Max bound an Int option; Max 0 means no upper bound.
	Min, Max int64
	// Choices, when set, lists every value a String option accepts.
	Choices []string
	// Path says the value is a file system path (see sdk.OptionSpec.Path).
	Path bool
}

// spec returns the option as Describe documents it.
func (o Option) spec() sdk.OptionSpec {
	return sdk.OptionSpec{Name: o.Name, Default: o.Default, Usage: o.Usage, Path: o.Path}
}

// parse checks v against the option's kind and returns it in canonical
// form (e.g. "true" for "yes", "10" for "010").
func (o Option) parse(arch, v string) (string, error) {
	v = strings.TrimSpace(v)
	bad := func(want string) error {
		return fmt.Errorf("%s: option %s=%q: %w: give %s", arch, o.Name, v, sdk.ErrBadOption, want)
	}
	switch o.Kind {
	case Int:
		n, err := strconv.ParseInt(v, 10, 64)
		want := fmt.Sprintf("an integer >= %d", o.Min)
		if o.Max > 0 {
			want = fmt.Sprintf("an integer from %d to %d", o.Min, o.Max)
		}
		if err != nil || n < o.Min || (o.Max > 0 && n > o.Max) {
			return "", bad(want)
		}
		return strconv.FormatInt(n, 10), nil
	case Bool:
		switch strings.ToLower(v) {
		case "true", "1", "yes":
			return "true", nil
		case "false", "0", "no":
			return "false", nil
		}
		return "", bad("true or false")
	case Float:
		f, err := strconv.ParseFloat(v, 64)
		if err != nil {
			return "", bad("a number")
		}
		return strconv.FormatFloat(f, 'g', -1, 64), nil
	}
	if len(o.Choices) > 0 && !slices.Contains(o.Choices, v) {
		hint := ""
		if s := sdk.Suggest(v, o.Choices, 1); len(s) > 0 {
			hint = " (did you mean " + s[0] + "?)"
		}
		return "", bad(strings.Join(o.Choices, ", ") + hint)
	}
	return v, nil
}

// Options are an architecture's option values: the user's, the
// checkpoint's and the defaults, parsed and checked against their kinds.
// The accessors return the zero value for a name the arch does not
// declare.
type Options struct {
	arch string
	vals map[string]string
	from map[string]string // "user", "checkpoint" or absent (default)
}

// Arch returns the architecture's name.
func (o Options) Arch() string { return o.arch }

// String returns a String option's value.
func (o Options) String(name string) string { return o.vals[name] }

// Int returns an Int option's value.
func (o Options) Int(name string) int64 {
	n, _ := strconv.ParseInt(o.vals[name], 10, 64)
	return n
}

// Bool returns a Bool option's value.
func (o Options) Bool(name string) bool { return o.vals[name] == "true" }

// Float returns a Float option's value.
func (o Options) Float(name string) float64 {
	f, _ := strconv.ParseFloat(o.vals[name], 64)
	return f
}

// Given reports whether the user set the option.
func (o Options) Given(name string) bool { return o.from[name] == "user" }

// FromCheckpoint reports whether the option was read from the checkpoint.
func (o Options) FromCheckpoint(name string) bool { return o.from[name] == "checkpoint" }

// Values returns every option's canonical value.
func (o Options) Values() map[string]string { return maps.Clone(o.vals) }

// NewOptions parses given (without strip_prefix) for arch a and fills in
// defaults. It is what Load does before reading a checkpoint; families'
// tests use it to build a Net directly.
func NewOptions(a *Arch, given map[string]string) (Options, error) {
	o := Options{arch: a.Name, vals: map[string]string{}, from: map[string]string{}}
	for k, v := range given {
		i := slices.IndexFunc(a.Options, func(s Option) bool { return s.Name == k })
		if i < 0 {
			return o, unknownOption(a, k)
		}
		c, err := a.Options[i].parse(a.Name, v)
		if err != nil {
			return o, err
		}
		o.vals[k], o.from[k] = c, "user"
	}
	for _, s := range a.Options {
		if _, ok := o.vals[s.Name]; !ok && s.Default != "" {
			c, err := s.parse(a.Name, s.Default)
			if err != nil {
				return o, fmt.Errorf("%s: option %s: default %q does not parse: %w", a.Name, s.Name, s.Default, err)
			}
			o.vals[s.Name] = c
		}
	}
	return o, nil
}

func unknownOption(a *Arch, k string) error {
	names := make([]string, 0, len(a.Options)+1)
	for _, s := range a.Options {
		names = append(names, s.Name)
	}
	names = append(names, bridge.PrefixOption)
	hint := ""
	if s := sdk.Suggest(k, names, 1); len(s) > 0 {
		hint = "; did you mean " + s[0] + "?"
	}
	return fmt.Errorf("%s: option %q: %w: %s takes %s%s", a.Name, k, sdk.ErrBadOption, a.Name, strings.Join(names, ", "), hint)
}

// merge takes the options a checkpoint determines. A value the user set
// that differs from the checkpoint's is an error naming both; options the
// user did not set are never blamed.
func (o *Options) merge(a *Arch, inferred map[string]string, source string) error {
	var contra []string
	for _, k := range slices.Sorted(maps.Keys(inferred)) {
		i := slices.IndexFunc(a.Options, func(s Option) bool { return s.Name == k })
		if i < 0 {
			return fmt.Errorf("%s: the checkpoint reader set option %q, which the arch does not declare (a bug in the plugin)", a.Name, k)
		}
		c, err := a.Options[i].parse(a.Name, inferred[k])
		if err != nil {
			return fmt.Errorf("%s: %s: %w", a.Name, source, err)
		}
		if o.from[k] == "user" && o.vals[k] != c {
			contra = append(contra, fmt.Sprintf("%s=%s but the checkpoint has %s", k, o.vals[k], c))
			continue
		}
		if o.from[k] != "user" {
			o.vals[k], o.from[k] = c, "checkpoint"
		}
	}
	if len(contra) > 0 {
		return fmt.Errorf("%s: %s: the options you gave contradict the checkpoint: %s: %w: the checkpoint's shapes set these options; leave them out, or load a checkpoint saved with them",
			a.Name, source, strings.Join(contra, "; "), sdk.ErrWeights)
	}
	return nil
}

// Loaded lists every option of arch a in declaration order with its
// value and source ("user", "checkpoint" or "default").
func (o Options) Loaded(a *Arch) []sdk.LoadedOption {
	out := make([]sdk.LoadedOption, 0, len(a.Options))
	for _, s := range a.Options {
		src := o.from[s.Name]
		if src == "" {
			src = "default"
		}
		out = append(out, sdk.LoadedOption{Name: s.Name, Value: o.vals[s.Name], Source: src})
	}
	return out
}
