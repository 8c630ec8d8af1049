package sdk

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Sentinel errors shared by hosts and plugins. Errors returned by a plugin
// cross the wire as gRPC status codes with the sentinel's Code, and the host
// wraps the message around the same sentinel, so errors.Is works on both
// sides.
var (
	ErrUnknownArch       = errors.New("sdk: unknown architecture")
	ErrUnknownLayer      = errors.New("sdk: unknown layer")
	ErrBadInput          = errors.New("sdk: bad input")
	ErrBadOption         = errors.New("sdk: bad option")
	ErrWeights           = errors.New("sdk: weights do not fit the model")
	ErrUnsupported       = errors.New("sdk: capability not supported")
	ErrDeviceUnavailable = errors.New("sdk: device unavailable")
	ErrClosed            = errors.New("sdk: model closed")
	ErrPluginCrashed     = errors.New("sdk: plugin crashed")
	// ErrNoMatch reports a freeze/unfreeze pattern that matches no
	// parameter. It is a kind of bad input: errors.Is(err, ErrBadInput)
	// holds for it too.
	ErrNoMatch error = &kindError{msg: "sdk: pattern matches no parameter", kind: ErrBadInput}
)

// kindError is a sentinel that is also a more general one.
type kindError struct {
	msg  string
	kind error
}

func (e *kindError) Error() string { return e.msg }
func (e *kindError) Unwrap() error { return e.kind }

// sentinels lists every sentinel with its stable code, the name it
// travels under on the plugin wire, from the most specific to the most
// general. Code returns the first that an error wraps, so an error
// wrapping several (errors.Join, or fmt.Errorf with two %w) always gets
// the same code: a sentinel that is a kind of another comes before it
// (NO_MATCH before BAD_INPUT); conditions of the plugin, the model or the
// device come before complaints about a request's content; an option
// comes before the checkpoint it may have made not fit; and BAD_INPUT,
// the most general complaint, comes last.
var sentinels = []struct {
	code string
	err  error
}{
	{"NO_MATCH", ErrNoMatch},
	{"PLUGIN_CRASHED", ErrPluginCrashed},
	{"CLOSED", ErrClosed},
	{"DEVICE_UNAVAILABLE", ErrDeviceUnavailable},
	{"UNSUPPORTED", ErrUnsupported},
	{"UNKNOWN_ARCH", ErrUnknownArch},
	{"UNKNOWN_LAYER", ErrUnknownLayer},
	{"BAD_OPTION", ErrBadOption},
	{"WEIGHTS", ErrWeights},
	{"BAD_INPUT", ErrBadInput},
}

// Code returns the wire code of the sentinel err wraps, or "" when it
// wraps none. When err wraps several, the most specific wins, in this
// fixed order: NO_MATCH, PLUGIN_CRASHED, CLOSED, DEVICE_UNAVAILABLE,
// UNSUPPORTED, UNKNOWN_ARCH, UNKNOWN_LAYER, BAD_OPTION, WEIGHTS,
// BAD_INPUT. So ErrNoMatch, which is also a bad input, travels as
// NO_MATCH, and an error joining ErrClosed and ErrBadInput as CLOSED.
func Code(err error) string {
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			return s.code
		}
	}
	return ""
}

// Sentinel returns the sentinel error whose wire code is code (see Code),
// or nil for a code it does not know, such as one from a newer plugin.
func Sentinel(code string) error {
	for _, s := range sentinels {
		if s.code == code {
			return s.err
		}
	}
	return nil
}

// LayerError reports a layer name a model does not have, with the closest
// names it does have. It matches ErrUnknownLayer.
type LayerError struct {
	Name        string
	Suggestions []string
}

func (e *LayerError) Error() string {
	msg := fmt.Sprintf("unknown layer %q", e.Name)
	if len(e.Suggestions) > 0 {
		msg += "; did you mean " + strings.Join(quoteAll(e.Suggestions), ", ") + "?"
	}
	return msg + " (gozoo layers ARCH lists them all)"
}

// Is makes errors.Is(err, ErrUnknownLayer) true.
func (e *LayerError) Is(target error) bool { return target == ErrUnknownLayer }

// ShapeError reports a tensor whose shape or dtype does not fit, with the
// dtype and shape seen. Want may hold -1 for free dimensions. It matches
// ErrBadInput.
type ShapeError struct {
	What      string // what was checked, e.g. "input"
	Want, Got []int64
	// DType is the dtype seen and WantDType the one wanted; 0 when not
	// recorded (WantDType 0: any).
	DType, WantDType DType
	Hint             string // what to do, optional
}

// Error reads "input (int64) has shape [2, 12]; want float32 [N, 3, *, *]:
// HINT": the batch dimension wanted is N, other free dimensions are *.
func (e *ShapeError) Error() string {
	what := e.What
	if e.DType != 0 && !strings.Contains(what, "("+e.DType.String()+")") {
		what += " (" + e.DType.String() + ")"
	}
	want := formatWant(e.Want)
	if e.WantDType != 0 {
		want = e.WantDType.String() + " " + want
	}
	msg := fmt.Sprintf("%s has shape %s; want %s", what, FormatShape(e.Got), want)
	if e.Hint != "" {
		msg += ": " + e.Hint
	}
	return msg
}

// formatWant formats a wanted shape: -1 is N as the first dimension and *
// elsewhere (any size).
func formatWant(shape []int64) string {
	parts := make([]string, len(shape))
	for i, d := range shape {
		switch {
		case d >= 0:
			parts[i] = strconv.FormatInt(d, 10)
		case i == 0:
			parts[i] = "N"
		default:
			parts[i] = "*"
		}
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// Is makes errors.Is(err, ErrBadInput) true.
func (e *ShapeError) Is(target error) bool { return target == ErrBadInput }

func quoteAll(ss []string) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = fmt.Sprintf("%q", s)
	}
	return out
}

// WithDTypes returns a copy of err, when it is a *ShapeError, with the
// dtype seen and the one wanted recorded, so that its message shows both;
// any other error (a wrapped ShapeError too, whose message is already
// fixed) is returned unchanged.
func WithDTypes(err error, seen, want DType) error {
	se, ok := err.(*ShapeError)
	if !ok {
		return err
	}
	c := *se
	c.DType, c.WantDType = seen, want
	return &c
}
