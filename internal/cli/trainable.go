package cli

import (
	"context"
	"fmt"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// applyTrainable freezes the parameters matching freeze, then unfreezes
// those matching unfreeze, as the --freeze and --unfreeze flags of params
// and finetune ask. A pattern that matches no parameter is an error
// (sdk.ErrNoMatch) naming the flag and the closest names, whichever plugin
// serves the model: plugins built on backbone.ApplyTrainable refuse such a
// pattern themselves, and for others the answer is checked here.
func applyTrainable(ctx context.Context, m sdk.Model, freeze, unfreeze []string) error {
	for _, step := range []struct {
		flag      string
		patterns  []string
		trainable bool
	}{{"--freeze", freeze, false}, {"--unfreeze", unfreeze, true}} {
		if len(step.patterns) == 0 {
			continue
		}
		resp, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: step.patterns, Trainable: step.trainable})
		if err != nil {
			return fmt.Errorf("%s %s: %w", step.flag, strings.Join(step.patterns, ","), err)
		}
		if err := checkMatched(ctx, m, step.patterns, resp.Matched); err != nil {
			return fmt.Errorf("%s %s: %w", step.flag, strings.Join(step.patterns, ","), err)
		}
	}
	return nil
}

// checkMatched returns an sdk.ErrNoMatch error when a pattern matches none
// of the names a SetTrainable call reported: a pattern that matched any
// parameter would have put it there.
func checkMatched(ctx context.Context, m sdk.Model, patterns, matched []string) error {
	var missed []string
	for _, pat := range patterns {
		hit := false
		for _, n := range matched {
			if ok, _ := sdk.MatchPattern(pat, n); ok {
				hit = true
				break
			}
		}
		if !hit {
			missed = append(missed, pat)
		}
	}
	if len(missed) == 0 {
		return nil
	}
	params, err := m.Params(ctx)
	if err != nil {
		return err
	}
	if len(params) == 0 {
		return nil
	}
	names := make([]string, len(params))
	for i, p := range params {
		names[i] = p.Name
	}
	msgs := make([]string, len(missed))
	for i, pat := range missed {
		msgs[i] = sdk.NoMatchMessage(pat, names)
	}
	return fmt.Errorf("%w: %s (gozoo params ARCH lists the names)", sdk.ErrNoMatch, strings.Join(msgs, "; "))
}
