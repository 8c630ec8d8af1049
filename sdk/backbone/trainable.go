package backbone

import (
	"fmt"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// ApplyTrainable is the body of a typical Model.SetTrainable: it matches
// req.Patterns against the names of params and records req.Trainable in
// flags for every match. A pattern that matches no parameter is an error
// wrapping sdk.ErrNoMatch (and so sdk.ErrBadInput) that names the closest
// parameters and module prefixes (see sdk.SuggestPatterns); then no flag
// changes. A model without parameters matches nothing and is no error.
// The caller holds whatever lock guards flags.
func ApplyTrainable(params []sdk.Param, flags map[string]bool, req *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	resp := &sdk.SetTrainableResponse{}
	hits := make([]int, len(req.Patterns))
	for _, p := range params {
		matched := false
		for i, pat := range req.Patterns {
			ok, err := sdk.MatchPattern(pat, p.Name)
			if err != nil {
				return nil, fmt.Errorf("set trainable: %w", err)
			}
			if ok {
				hits[i]++
				matched = true
			}
		}
		if matched {
			resp.Matched = append(resp.Matched, p.Name)
		}
	}
	if len(params) > 0 {
		names := make([]string, len(params))
		for i, p := range params {
			names[i] = p.Name
		}
		var missed []string
		for i, pat := range req.Patterns {
			if hits[i] == 0 {
				missed = append(missed, sdk.NoMatchMessage(pat, names))
			}
		}
		if len(missed) > 0 {
			return nil, fmt.Errorf("set trainable: %w: %s (gozoo params ARCH lists the names)", sdk.ErrNoMatch, strings.Join(missed, "; "))
		}
	}
	for _, n := range resp.Matched {
		flags[n] = req.Trainable
	}
	return resp, nil
}
