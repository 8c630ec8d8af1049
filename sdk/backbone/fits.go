package backbone

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
)

// Fits returns the archs of f that a checkpoint fits exactly: those whose
// net, with the options the arch's Infer reads from sd (defaults for the
// rest), declares every key of sd with sd's shape and no key sd lacks
// (but optional ones). sd is a checkpoint as Hint receives it, its prefix
// stripped and its keys adapted. Fits builds a graph per arch, so it is
// meant for error paths: a Hinter of a family whose variants differ in
// their state_dicts names the one a checkpoint was saved from.
func Fits(f Family, sd map[string]*sdk.Tensor) []string {
	var out []string
	for i := range f.Archs {
		a := &f.Archs[i]
		given := map[string]string{}
		if a.Infer != nil {
			inferred, err := a.Infer(sd)
			if err != nil {
				continue
			}
			given = inferred
		}
		o, err := NewOptions(a, given)
		if err != nil {
			continue
		}
		net, err := a.New(o)
		if err != nil {
			continue
		}
		b := net.Build(net.DefaultInput())
		// A model over the size limit still declares every parameter.
		if err := b.Err(); err != nil && !errors.Is(err, nn.ErrTooLarge) {
			continue
		}
		if fits(b.Specs(), sd) {
			out = append(out, a.Name)
		}
	}
	return out
}

func fits(specs []nn.ParamSpec, sd map[string]*sdk.Tensor) bool {
	n := 0
	for _, s := range specs {
		t, ok := sd[s.Name]
		switch {
		case !ok && s.Optional:
			continue
		case !ok || t == nil || !sdk.EqualShape(t.Shape, s.Shape):
			return false
		}
		n++
	}
	return n == len(sd)
}

// Hint is the Hinter text of a family whose variants differ in their
// state_dicts, for a checkpoint that does not fit arch: it names the
// archs of f the checkpoint fits (Fits), or says it fits none.
func Hint(f Family, arch string, sd map[string]*sdk.Tensor) string {
	switch fit := Fits(f, sd); len(fit) {
	case 0:
		return fmt.Sprintf(" (the checkpoint fits no %s arch: was it saved from another architecture?)", f.Name)
	case 1:
		if fit[0] == arch {
			return ""
		}
		return fmt.Sprintf(" (the checkpoint is %s's: load it with arch %s)", fit[0], fit[0])
	default:
		return fmt.Sprintf(" (the checkpoint fits archs %s: load it with one of them)", strings.Join(fit, ", "))
	}
}

// NumClasses returns the Infer of an arch whose checkpoints determine
// only num_classes: the rows of the classifier Linear's weight named key
// (e.g. "fc.weight"). A checkpoint without that 2-d weight sets nothing,
// and the strict match then reports the missing key.
func NumClasses(key string) func(map[string]*sdk.Tensor) (map[string]string, error) {
	return func(sd map[string]*sdk.Tensor) (map[string]string, error) {
		out := map[string]string{}
		if w := sd[key]; w != nil && len(w.Shape) == 2 {
			out["num_classes"] = fmt.Sprint(w.Shape[0])
		}
		return out, nil
	}
}
