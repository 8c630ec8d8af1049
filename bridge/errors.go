package bridge

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// Sentinel errors. Errors returned by this package wrap one of them (or
// sdk.ErrWeights for a checkpoint that does not fit a model), so callers
// test with errors.Is and never match messages.
var (
	// ErrUnsafePickle reports a pickle that names a Python global outside
	// the allow-list of tensor types. Nothing it names is run.
	ErrUnsafePickle = errors.New("bridge: unsafe pickle")
	// ErrCorrupt reports a file that is truncated, damaged or not a
	// checkpoint at all.
	ErrCorrupt = errors.New("bridge: corrupt or not a checkpoint")
	// ErrUnsupported reports a well-formed checkpoint this package cannot
	// turn into a state_dict (a pickled whole model, a complex dtype, a
	// big-endian file, ...).
	ErrUnsupported = errors.New("bridge: unsupported checkpoint")
)

// UnsafeGlobalError names the global a pickle asked for that is not on the
// allow-list. It matches ErrUnsafePickle.
type UnsafeGlobalError struct {
	Module, Name string
}

// Error names the global and says what to do.
func (e *UnsafeGlobalError) Error() string {
	return fmt.Sprintf("pickle refers to %s.%s, which is not an allowed tensor type; it was not run. "+
		"Loading this file with torch.load could run code: do not trust it. If you made it, re-save "+
		"only the weights with torch.save(model.state_dict(), path)", e.Module, e.Name)
}

// Is makes errors.Is(err, ErrUnsafePickle) true.
func (e *UnsafeGlobalError) Is(target error) bool { return target == ErrUnsafePickle }

// ShapeMismatch is one tensor whose checkpoint shape differs from the
// model's.
type ShapeMismatch struct {
	Name              string
	Checkpoint, Model []int64
}

// MismatchError lists every way a state_dict differs from what a model
// expects, as torch's load_state_dict(strict=True) does. The slices are
// complete; Error abbreviates long lists. It matches sdk.ErrWeights.
type MismatchError struct {
	Source     string // the checkpoint file, when known
	Missing    []string
	Unexpected []string
	Shapes     []ShapeMismatch
	Hint       string
}

// maxListed bounds how many keys one part of a MismatchError message
// names before it says how many more there are.
const maxListed = 8

// Error lists the problems, abbreviating long lists, and ends with a hint.
func (e *MismatchError) Error() string {
	var b strings.Builder
	b.WriteString("checkpoint ")
	if e.Source != "" {
		b.WriteString(e.Source + " ")
	}
	b.WriteString("does not fit the model")
	if len(e.Missing) > 0 {
		fmt.Fprintf(&b, "; missing keys (%d): %s", len(e.Missing), abbreviate(e.Missing))
	}
	if len(e.Unexpected) > 0 {
		fmt.Fprintf(&b, "; unexpected keys (%d): %s", len(e.Unexpected), abbreviate(e.Unexpected))
	}
	for i, s := range e.Shapes {
		if i == maxListed {
			fmt.Fprintf(&b, "; and %d more size mismatches", len(e.Shapes)-maxListed)
			break
		}
		fmt.Fprintf(&b, "; size mismatch for %s: checkpoint has %s, model has %s",
			s.Name, sdk.FormatShape(s.Checkpoint), sdk.FormatShape(s.Model))
	}
	if e.Hint != "" {
		b.WriteString("; " + e.Hint)
	}
	return b.String()
}

// Is makes errors.Is(err, sdk.ErrWeights) true.
func (e *MismatchError) Is(target error) bool { return target == sdk.ErrWeights }

func abbreviate(names []string) string {
	n := min(len(names), maxListed)
	q := make([]string, n)
	for i := range n {
		q[i] = fmt.Sprintf("%q", names[i])
	}
	s := strings.Join(q, ", ")
	if len(names) > n {
		s += fmt.Sprintf(", ... and %d more", len(names)-n)
	}
	return s
}
