package bridge

import (
	"fmt"
	"maps"

	"github.com/gozoo/gozoo/sdk"
)

// PrefixOption is the load option (sdk.LoadRequest.Options) naming a
// prefix to strip from every checkpoint key before matching: "module." for
// a checkpoint saved from nn.DataParallel or DistributedDataParallel.
// Every first-party plugin takes it (gozoo: --opt strip_prefix=module.).
const PrefixOption = "strip_prefix"

// PrefixOptionSpec documents PrefixOption in a plugin's Describe.
var PrefixOptionSpec = sdk.OptionSpec{
	Name:  PrefixOption,
	Usage: "prefix to strip from every checkpoint key before matching, e.g. module. for a checkpoint saved from nn.DataParallel",
}

// TakePrefix returns the value of PrefixOption in opts and a copy of opts
// without it, for a plugin to check its own options on.
func TakePrefix(opts map[string]string) (string, map[string]string) {
	p, ok := opts[PrefixOption]
	if !ok {
		return "", opts
	}
	rest := maps.Clone(opts)
	delete(rest, PrefixOption)
	return p, rest
}

// LoadStripped reads a checkpoint as Load does and, when prefix is not
// empty, removes it from every key. A key without the prefix is an error
// wrapping sdk.ErrWeights that names it, since then the prefix is not the
// checkpoint's.
func LoadStripped(path, prefix string) (*StateDict, error) {
	sd, err := Load(path)
	if err != nil || prefix == "" {
		return sd, err
	}
	for _, k := range sd.Keys {
		if len(k) < len(prefix) || k[:len(prefix)] != prefix {
			return nil, fmt.Errorf("load %s: %w: option %s=%s, but key %q does not start with it: drop the option, or give the prefix every key has", path, sdk.ErrWeights, PrefixOption, prefix, k)
		}
	}
	if !sd.TrimPrefix(prefix) {
		return nil, fmt.Errorf("load %s: %w: stripping %q makes two keys equal", path, sdk.ErrWeights, prefix)
	}
	return sd, nil
}
