package host

import (
	"fmt"
	"maps"
	"path/filepath"

	"github.com/gozoo/gozoo/sdk"
)

// A plugin's working directory is its own (the Python plugin runs in its
// package folder), so every path in a request is made absolute against
// the host's working directory before the request crosses. Empty paths
// stay empty: they mean "none".

// absPath returns path made absolute against the working directory.
func absPath(what, path string) (string, error) {
	if path == "" || filepath.IsAbs(path) {
		return path, nil
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s %q: cannot make it absolute: %v", sdk.ErrBadInput, what, path, err)
	}
	return abs, nil
}

// absLoad returns a copy of req whose WeightsPath, and every option that
// arch's OptionSpec marks as a path, are absolute. req is not modified.
func absLoad(req *sdk.LoadRequest, arch *sdk.Arch) (*sdk.LoadRequest, error) {
	out := *req
	var err error
	if out.WeightsPath, err = absPath("weights", req.WeightsPath); err != nil {
		return nil, err
	}
	if arch == nil || len(req.Options) == 0 {
		return &out, nil
	}
	out.Options = maps.Clone(req.Options)
	for _, o := range arch.Options {
		v, ok := out.Options[o.Name]
		if !o.Path || !ok {
			continue
		}
		if out.Options[o.Name], err = absPath("option "+o.Name, v); err != nil {
			return nil, err
		}
	}
	return &out, nil
}

// absTrain returns a copy of req whose CheckpointDir and ResumeFrom are
// absolute.
func absTrain(req *sdk.TrainRequest) (*sdk.TrainRequest, error) {
	out := *req
	var err error
	if out.CheckpointDir, err = absPath("checkpoint folder", req.CheckpointDir); err != nil {
		return nil, err
	}
	if out.ResumeFrom, err = absPath("resume checkpoint", req.ResumeFrom); err != nil {
		return nil, err
	}
	return &out, nil
}

// absExport returns a copy of req whose Path is absolute.
func absExport(req *sdk.ExportRequest) (*sdk.ExportRequest, error) {
	out := *req
	var err error
	if out.Path, err = absPath("export path", req.Path); err != nil {
		return nil, err
	}
	return &out, nil
}

// findArch returns the architecture named name in d, or nil.
func findArch(d *sdk.Description, name string) *sdk.Arch {
	if d == nil {
		return nil
	}
	for i := range d.Archs {
		if d.Archs[i].Name == name {
			return &d.Archs[i]
		}
	}
	return nil
}
