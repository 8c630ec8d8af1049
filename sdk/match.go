package sdk

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// MatchPattern reports whether a parameter or layer name matches a glob
// pattern: '*' matches any run of characters (dots included), '?' one
// character, and [...] a class, as in path.Match. "layer4.*" matches
// "layer4.0.conv1.weight"; "*" matches everything; "fc.*" does not match
// "fc1.weight".
func MatchPattern(pattern, name string) (bool, error) {
	// Names never hold '/', so path.Match's '*' spans dots, as wanted.
	if strings.Contains(name, "/") {
		return pattern == name, nil
	}
	ok, err := path.Match(pattern, name)
	if err != nil {
		return false, fmt.Errorf("%w: pattern %q: %v", ErrBadInput, pattern, err)
	}
	return ok, nil
}

// Suggest returns up to max candidates closest to name by edit distance,
// closest first, for "did you mean" messages. Candidates sharing name as a
// prefix or suffix rank first.
func Suggest(name string, candidates []string, max int) []string {
	type scored struct {
		s string
		d int
	}
	var all []scored
	for _, c := range candidates {
		d := editDistance(name, c)
		if strings.HasPrefix(c, name) || strings.HasSuffix(c, name) {
			d = 0
		}
		limit := len(name)/2 + 2
		if d <= limit {
			all = append(all, scored{c, d})
		}
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].d < all[j].d })
	var out []string
	for i := 0; i < len(all) && i < max; i++ {
		out = append(out, all[i].s)
	}
	return out
}

// editDistance is the optimal-string-alignment distance: insertions,
// deletions, substitutions and swaps of adjacent characters cost 1, so the
// typo "resnet05" is closer to "resnet50" than to "resnet18".
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// NoMatchMessage describes a pattern that matches none of names, with the
// closest patterns SuggestPatterns finds: `"layer9.*"; did you mean
// "layer1.*", "layer2.*"?`.
func NoMatchMessage(pattern string, names []string) string {
	msg := fmt.Sprintf("%q", pattern)
	if s := SuggestPatterns(pattern, names, 3); len(s) > 0 {
		msg += "; did you mean " + strings.Join(quoteAll(s), ", ") + "?"
	} else if len(names) > 0 {
		msg += fmt.Sprintf("; names look like %q", names[0])
	}
	return msg
}

// SuggestPatterns returns up to max patterns close to pattern, for "did you
// mean" messages about freeze and unfreeze patterns. The candidates are
// built from the parameter names: every module prefix as "prefix.*"
// ("layer4.*", "layer4.1.*"), every name itself, and every last component
// as "*.last" ("*.bias"), ranked by Suggest.
func SuggestPatterns(pattern string, names []string, max int) []string {
	seen := map[string]bool{}
	var cands []string
	add := func(c string) {
		if !seen[c] {
			seen[c] = true
			cands = append(cands, c)
		}
	}
	for _, n := range names {
		parts := strings.Split(n, ".")
		for i := 1; i < len(parts); i++ {
			add(strings.Join(parts[:i], ".") + ".*")
		}
		add(n)
	}
	for _, n := range names {
		if i := strings.LastIndexByte(n, '.'); i >= 0 {
			add("*" + n[i:])
		}
	}
	return Suggest(pattern, cands, max)
}
