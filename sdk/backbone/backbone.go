package backbone

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// New returns the sdk.Backbone of a family. It is safe for concurrent use.
func New(f Family) sdk.Backbone { return &backbone{f: f} }

type backbone struct{ f Family }

var _ sdk.Backbone = (*backbone)(nil)

// Describe lists the family's archs, each with its options and the
// strip_prefix option every checkpoint loader takes.
func (b *backbone) Describe(ctx context.Context) (*sdk.Description, error) {
	d := &sdk.Description{
		Name:          b.f.Name,
		Version:       b.f.Version,
		ProtocolMinor: sdk.ProtocolMinor,
		Capabilities:  sdk.Capabilities{Extract: true, Export: true, Devices: Devices()},
	}
	for _, a := range b.f.Archs {
		in := a.Input
		in.Shape = slices.Clone(in.Shape)
		opts := make([]sdk.OptionSpec, 0, len(a.Options)+1)
		for _, o := range a.Options {
			opts = append(opts, o.spec())
		}
		opts = append(opts, bridge.PrefixOptionSpec)
		d.Archs = append(d.Archs, sdk.Arch{Name: a.Name, Input: in, Options: opts, Doc: a.Doc})
	}
	return d, nil
}

// Devices lists "cpu" and the GPU devices the ONNX Runtime library offers.
func Devices() []string {
	out := []string{"cpu"}
	for _, d := range ort.Devices() {
		if d.Available && d.Device != "cpu" {
			out = append(out, d.Device)
		}
	}
	return out
}

func (b *backbone) arch(name string) (*Arch, error) {
	for i := range b.f.Archs {
		if b.f.Archs[i].Name == name {
			return &b.f.Archs[i], nil
		}
	}
	names := make([]string, len(b.f.Archs))
	for i, a := range b.f.Archs {
		names[i] = a.Name
	}
	hint := ""
	if s := sdk.Suggest(name, names, 1); len(s) > 0 {
		hint = "; did you mean " + s[0] + "?"
	}
	return nil, fmt.Errorf("%s: arch %q: %w; the plugin offers %s%s", b.f.Name, name, sdk.ErrUnknownArch, strings.Join(names, ", "), hint)
}

// Load builds a model, with a seeded random init or a checkpoint whose
// shapes set the options they determine and which is then matched
// strictly (every key, no extra one, matching shapes).
func (b *backbone) Load(ctx context.Context, req *sdk.LoadRequest) (sdk.Model, error) {
	if req == nil {
		return nil, fmt.Errorf("%s: load: %w: no request", b.f.Name, sdk.ErrBadInput)
	}
	a, err := b.arch(req.Arch)
	if err != nil {
		return nil, err
	}
	prefix, own := bridge.TakePrefix(req.Options)
	opts, err := NewOptions(a, own)
	if err != nil {
		return nil, err
	}
	src := &source{family: &b.f, arch: a, seed: req.Seed, prefix: prefix}
	var sd map[string]*sdk.Tensor
	switch {
	case req.WeightsPath != "":
		switch f := req.WeightsFormat; f {
		case sdk.FormatNone, sdk.FormatPTH, sdk.FormatSafetensors:
		default:
			return nil, fmt.Errorf("%s: weights format %q: %w: use a .pth or .safetensors state_dict", a.Name, f, sdk.ErrUnsupported)
		}
		src.path = req.WeightsPath
		if sd, err = src.read(); err != nil {
			return nil, err
		}
		if a.Infer != nil {
			inferred, err := a.Infer(sd)
			if err != nil {
				return nil, fmt.Errorf("%s: weights %s: %w", a.Name, filepath.Base(src.path), err)
			}
			if err := opts.merge(a, inferred, "weights "+filepath.Base(src.path)); err != nil {
				return nil, err
			}
		}
	case req.WeightsFormat != sdk.FormatNone:
		return nil, fmt.Errorf("%s: weights format %q without a path: %w: set WeightsPath", a.Name, req.WeightsFormat, sdk.ErrBadOption)
	}
	net, err := a.New(opts)
	if err != nil {
		return nil, err
	}
	m := &model{
		family: b.f.Name,
		arch:   a,
		net:    net,
		opts:   opts,
		src:    src,
		ort:    slices.Clone(b.f.SessionOptions),
		graphs: newGraphCache(),
	}
	if req.Threads > 0 {
		m.ort = append(m.ort, ort.WithThreads(req.Threads))
	}
	if req.Device != "" {
		m.ort = append(m.ort, ort.WithDevice(req.Device))
	}
	m.graph, err = m.graphs.get(net, net.DefaultInput())
	if err != nil {
		return nil, fmt.Errorf("%s: build: %w", a.Name, err)
	}
	src.specs = m.graph.b.Specs()
	if sd != nil {
		m.weights, err = src.match(sd, net)
	} else {
		m.weights = nn.RandomWeights(src.specs, src.seed)
	}
	if err != nil {
		return nil, err
	}
	m.sessions = NewSessions(SessionLimit(m.weights.Bytes()))
	m.trainable = map[string]bool{}
	for _, p := range m.graph.b.Params() {
		m.trainable[p.Name] = true
	}
	// Fail at Load, not at the first Extract, when a GPU is unusable.
	if req.Device != "" && req.Device != "cpu" {
		c, err := m.session(m.graph, []string{net.DefaultLayer()})
		if err == nil {
			err = c.Release()
		}
		if err != nil {
			return nil, errors.Join(fmt.Errorf("%s: %w", a.Name, err), m.Close())
		}
	}
	return m, nil
}

// source is where a model's weights come from: a checkpoint, read again
// for each new session, or a seed.
type source struct {
	family *Family
	arch   *Arch
	specs  []nn.ParamSpec
	seed   int64
	path   string
	prefix string
	size   int64
	mtime  time.Time
}

// read loads the checkpoint and adapts its keys; the first read records
// the file's size and time, and a later read refuses a file that changed.
func (s *source) read() (map[string]*sdk.Tensor, error) {
	fi, err := os.Stat(s.path)
	if err != nil {
		return nil, fmt.Errorf("%s: weights: %w", s.arch.Name, err)
	}
	if s.mtime.IsZero() {
		s.size, s.mtime = fi.Size(), fi.ModTime()
	} else if fi.Size() != s.size || !fi.ModTime().Equal(s.mtime) {
		return nil, fmt.Errorf("%s: weights %s changed since the model was loaded (%d bytes, %s; now %d bytes, %s): %w: load the model again",
			s.arch.Name, s.path, s.size, s.mtime.Format(time.RFC3339), fi.Size(), fi.ModTime().Format(time.RFC3339), sdk.ErrWeights)
	}
	sd, err := bridge.LoadStripped(s.path, s.prefix)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.arch.Name, err) // err names the file
	}
	t := sd.Tensors
	if s.arch.Adapt != nil {
		if t, err = s.arch.Adapt(t); err != nil {
			return nil, fmt.Errorf("%s: weights %s: %w", s.arch.Name, filepath.Base(s.path), err)
		}
	}
	return t, nil
}

// match checks sd strictly against the specs, less the keys the net
// ignores (which it deletes from sd), and returns the weights.
func (s *source) match(sd map[string]*sdk.Tensor, net Net) (*nn.Weights, error) {
	if ig, ok := net.(Ignorer); ok {
		for k := range sd {
			if ig.Ignores(k) {
				delete(sd, k)
			}
		}
	}
	base := filepath.Base(s.path)
	if c, ok := net.(WeightsChecker); ok {
		if err := c.CheckWeights(sd); err != nil {
			return nil, fmt.Errorf("%s: weights %s: %w", s.arch.Name, base, err)
		}
	}
	if err := matchSpecs(s.specs, sd, s.path); err != nil {
		var hint string
		if h, ok := net.(Hinter); ok {
			hint = h.Hint(sd)
		} else {
			hint = s.family.FitsHint(s.arch.Name, sd)
		}
		return nil, fmt.Errorf("%s: weights %s: %w%s", s.arch.Name, base, err, hint)
	}
	w, err := nn.LoadWeights(s.specs, sd)
	if err != nil {
		return nil, fmt.Errorf("%s: weights %s: %w", s.arch.Name, base, err)
	}
	return w, nil
}

// matchSpecs checks sd strictly against specs: every key, no extra one,
// every shape; an optional entry may be absent.
func matchSpecs(specs []nn.ParamSpec, sd map[string]*sdk.Tensor, source string) error {
	want := make([]bridge.Spec, 0, len(specs))
	for _, p := range specs {
		if p.Optional {
			if _, ok := sd[p.Name]; !ok {
				continue // torch accepts a missing num_batches_tracked
			}
		}
		want = append(want, bridge.Spec{Name: p.Name, Shape: p.Shape})
	}
	return (&bridge.StateDict{Tensors: sd, Keys: keys(sd), Source: source}).Match(want)
}

// weights returns the weights again: the checkpoint read and matched, or
// the seeded init drawn.
func (s *source) weights(net Net) (*nn.Weights, error) {
	if s.path == "" {
		return nn.RandomWeights(s.specs, s.seed), nil
	}
	sd, err := s.read()
	if err != nil {
		return nil, err
	}
	return s.match(sd, net)
}

func keys(m map[string]*sdk.Tensor) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
