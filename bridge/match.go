package bridge

import (
	"fmt"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// Spec is one tensor a model expects to load: a parameter or a buffer
// (running_mean, running_var, num_batches_tracked), named as in the
// model's state_dict.
type Spec struct {
	Name  string
	Shape []int64
}

// MatchOption changes how Match compares; see IgnoreKeys and StripPrefix.
type MatchOption func(*matchConfig) error

type matchConfig struct {
	ignore []string
	prefix string
}

// IgnoreKeys makes Match skip names, in the checkpoint or the model, that
// match any of the glob patterns (sdk.MatchPattern syntax: "aux_logits.*",
// "*.num_batches_tracked"). Such keys are neither missing, unexpected nor
// compared.
func IgnoreKeys(patterns ...string) MatchOption {
	return func(c *matchConfig) error {
		for _, p := range patterns {
			if _, err := sdk.MatchPattern(p, ""); err != nil {
				return fmt.Errorf("IgnoreKeys: %w", err)
			}
		}
		c.ignore = append(c.ignore, patterns...)
		return nil
	}
}

// StripPrefix makes Match first remove prefix from every checkpoint key
// when all of them start with it ("module." for checkpoints saved from
// nn.DataParallel). The state_dict is renamed in place (see TrimPrefix),
// so later look-ups use the model's names.
func StripPrefix(prefix string) MatchOption {
	return func(c *matchConfig) error {
		if prefix == "" {
			return fmt.Errorf("StripPrefix: %w: empty prefix", sdk.ErrBadOption)
		}
		if c.prefix != "" && c.prefix != prefix {
			return fmt.Errorf("StripPrefix: %w: two prefixes, %q and %q", sdk.ErrBadOption, c.prefix, prefix)
		}
		c.prefix = prefix
		return nil
	}
}

// Match checks sd against the tensors a model expects, like torch's
// load_state_dict(strict=True): it returns nil when every expected name is
// present with the expected shape and the checkpoint holds nothing else,
// and otherwise a *MismatchError listing every missing key, unexpected
// key and size mismatch at once. The error matches sdk.ErrWeights.
func (sd *StateDict) Match(expected []Spec, opts ...MatchOption) error {
	var c matchConfig
	for _, o := range opts {
		if err := o(&c); err != nil {
			return err
		}
	}
	if c.prefix != "" {
		sd.TrimPrefix(c.prefix)
	}
	ignored := func(name string) bool {
		for _, p := range c.ignore {
			if ok, _ := sdk.MatchPattern(p, name); ok {
				return true
			}
		}
		return false
	}
	e := &MismatchError{Source: sd.Source}
	want := make(map[string]bool, len(expected))
	for _, s := range expected {
		want[s.Name] = true
		if ignored(s.Name) {
			continue
		}
		t, ok := sd.Tensors[s.Name]
		if !ok {
			e.Missing = append(e.Missing, s.Name)
			continue
		}
		if !sdk.EqualShape(t.Shape, s.Shape) {
			e.Shapes = append(e.Shapes, ShapeMismatch{Name: s.Name, Checkpoint: t.Shape, Model: s.Shape})
		}
	}
	for _, k := range sd.Keys {
		if !want[k] && !ignored(k) {
			e.Unexpected = append(e.Unexpected, k)
		}
	}
	if len(e.Missing)+len(e.Unexpected)+len(e.Shapes) == 0 {
		return nil
	}
	e.Hint = hint(e, c.prefix != "")
	return e
}

// hint guesses the usual cause of a mismatch.
func hint(e *MismatchError, stripped bool) string {
	prefixed := 0
	for _, k := range e.Unexpected {
		if strings.HasPrefix(k, "module.") {
			prefixed++
		}
	}
	switch {
	case !stripped && prefixed > 0 && prefixed == len(e.Unexpected) && len(e.Missing) > 0:
		return `the checkpoint was saved from nn.DataParallel: load it with option strip_prefix=module. (gozoo: --opt strip_prefix=module.; Go: bridge.StripPrefix("module.") or bridge.LoadStripped)`
	case len(e.Missing) == 0 && len(e.Unexpected) == 0 && onlyHeads(e.Shapes):
		return "only the classifier differs: does num_classes differ from the checkpoint's?"
	case len(e.Missing) == 0 && len(e.Shapes) == 0:
		return "the checkpoint has extra tensors: ignore them with IgnoreKeys if they are expected (an auxiliary head)"
	}
	return "is this a checkpoint of another architecture, or does num_classes differ?"
}

// onlyHeads reports whether all mismatches are in a final classifier.
func onlyHeads(s []ShapeMismatch) bool {
	for _, m := range s {
		head := strings.SplitN(m.Name, ".", 2)[0]
		switch head {
		case "fc", "classifier", "head", "heads", "AuxLogits":
		default:
			return false
		}
	}
	return true
}
