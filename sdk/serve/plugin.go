package serve

import (
	"context"
	"errors"
	"fmt"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// Plugin returns an OpenFunc that starts, for each instance, a plugin
// process of its own (a host.Client made with opts) and loads req in it.
// The instance's threads fill req.Threads when it is 0. Closing the
// instance closes the model and stops the process; the host restarts a
// process that dies and repeats the interrupted call, and the Server
// counts the restart.
func Plugin(plugin string, req sdk.LoadRequest, opts ...host.Option) OpenFunc {
	return func(ctx context.Context, threads int) (*Instance, error) {
		c, err := host.New(opts...)
		if err != nil {
			return nil, err
		}
		bb, err := c.Backbone(ctx, plugin)
		if err != nil {
			return nil, errors.Join(err, c.Close())
		}
		d, err := bb.Describe(ctx)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("describe plugin %s: %w", plugin, err), c.Close())
		}
		var input sdk.InputSpec
		for _, a := range d.Archs {
			if a.Name == req.Arch {
				input = a.Input
			}
		}
		r := req
		if r.Threads == 0 {
			r.Threads = threads
		}
		m, err := bb.Load(ctx, &r)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("load %s from plugin %s: %w", req.Arch, plugin, err), c.Close())
		}
		// The loaded model's input, when its plugin reports it, reflects
		// its options (a sequence model's layout).
		if d, ok := m.(sdk.InputDescriber); ok {
			if in := d.Input(); len(in.Shape) > 0 {
				input = in
			}
		}
		return &Instance{
			Model: m,
			Input: input,
			PID:   func() (int, error) { return c.PID(plugin) },
			Close: func() error { return errors.Join(m.Close(), c.Close()) },
		}, nil
	}
}
