package backbone

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// Fits returns the names of the family's archs whose state_dict sd is,
// key for key and shape for shape, with the options sd's shapes set
// (Arch.Infer) and the defaults for the rest. sd is as Arch.Adapt left
// it. A family's Hinter uses it to name the arch a checkpoint was saved
// from ("the checkpoint is a mobilenet_v3_small state_dict"). An arch
// with an Adapt sees a copy of sd as its Adapt leaves it. It builds every
// arch's graph, so it is for error paths.
func (f Family) Fits(sd map[string]*sdk.Tensor) []string {
	var out []string
	for i := range f.Archs {
		a := &f.Archs[i]
		o, err := NewOptions(a, nil)
		if err != nil {
			continue
		}
		sd := sd
		if a.Adapt != nil {
			if sd, err = a.Adapt(maps.Clone(sd)); err != nil {
				continue
			}
		}
		if a.Infer != nil {
			inferred, err := a.Infer(sd)
			if err != nil || o.merge(a, inferred, "") != nil {
				continue
			}
		}
		net, err := a.New(o)
		if err != nil {
			continue
		}
		b := net.Build(net.DefaultInput())
		if b.Err() == nil && matchSpecs(b.Specs(), sd, "") == nil {
			out = append(out, a.Name)
		}
	}
	return out
}

// FitsHint is a Hinter's text for a checkpoint that did not fit arch:
// the family's archs whose state_dict it is, as " (the checkpoint is a
// mnasnet0_5 state_dict: load it with arch mnasnet0_5)", or "" when it
// is none of them (or arch's).
func (f Family) FitsHint(arch string, sd map[string]*sdk.Tensor) string {
	fits := f.Fits(sd)
	if len(fits) == 0 || slices.Contains(fits, arch) {
		return ""
	}
	return fmt.Sprintf(" (the checkpoint is a %s state_dict: load it with arch %s)", strings.Join(fits, " or "), fits[0])
}
