package backbone

import (
	"fmt"
	"slices"

	"github.com/gozoo/gozoo/sdk"
)

// SequenceLengths checks a request's per-sequence lengths for a batch of
// n sequences of t steps and returns them as the int64 [n] tensor a
// graph's lengths input takes; no lengths mean every sequence is t steps
// long. Each length must be 1..t, as torch's pack_padded_sequence and
// key padding masks need.
func SequenceLengths(arch string, lengths []int64, t, n int64) (*sdk.Tensor, error) {
	lens := slices.Clone(lengths)
	switch {
	case lens == nil:
		lens = slices.Repeat([]int64{t}, int(n))
	case int64(len(lens)) != n:
		return nil, fmt.Errorf("%s: extract: %w: %d lengths for a batch of %d sequences: give one length per sequence, or none when no sequence is padded",
			arch, sdk.ErrBadInput, len(lens), n)
	}
	for i, l := range lens {
		switch {
		case l < 1:
			return nil, fmt.Errorf("%s: extract: %w: sequence %d has length %d: every sequence needs at least one step (torch's pack_padded_sequence refuses empty ones too); drop it from the batch",
				arch, sdk.ErrBadInput, i, l)
		case l > t:
			return nil, fmt.Errorf("%s: extract: %w: sequence %d has length %d, longer than the input's %d steps: pad the input to the longest sequence or fix the lengths",
				arch, sdk.ErrBadInput, i, l, t)
		}
	}
	return &sdk.Tensor{Shape: []int64{n}, Int64: lens}, nil
}

// CheckTokenIDs checks that every token id of an int64 input lies in the
// embedding's range [0, vocab).
func CheckTokenIDs(arch string, ids *sdk.Tensor, vocab int64) error {
	for i, id := range ids.Int64 {
		if id < 0 || id >= vocab {
			return fmt.Errorf("%s: extract: %w: token id %d at flat index %d is outside the embedding's range [0, %d): map unknown tokens to an id the vocabulary has",
				arch, sdk.ErrBadInput, id, i, vocab)
		}
	}
	return nil
}
