package host

import (
	"context"
	"sync"

	"github.com/gozoo/gozoo/sdk"
)

// Described is one plugin's Describe answer, or why there is none.
type Described struct {
	PluginInfo
	Description *sdk.Description // nil when Err is set
	Cached      bool             // answered from the cache, without starting the plugin
	Err         error
}

// Describe returns the Describe answer of the plugin named name. It
// answers from the cache (see WithCacheDir) when the plugin file is the
// one that answered before (same path, size, times, inode and sha256);
// otherwise it starts the plugin, which then keeps running for later
// calls, and caches its answer. The answer is shared: do not modify it.
func (c *Client) Describe(ctx context.Context, name string) (*sdk.Description, error) {
	info, err := c.find(name)
	if err != nil {
		return nil, err
	}
	d, _, err := c.describe(ctx, &info)
	return d, err
}

// describe fills in info.SHA256 and returns the plugin's answer and
// whether it came from the cache.
func (c *Client) describe(ctx context.Context, info *PluginInfo) (*sdk.Description, bool, error) {
	if d, err := c.identify(info); err != nil || d != nil {
		return d, d != nil, err
	}
	p, err := c.proc(info.Name)
	if err != nil {
		return nil, false, err
	}
	d, err := p.description(ctx)
	if err != nil {
		return nil, false, err
	}
	c.remember(p.info, d)
	return d, false, nil
}

// DescribeAll describes every plugin on the search path as Describe does,
// in name order, starting only plugins the cache has no answer for (at
// the same time, so that slow starts do not add up). A plugin that cannot
// be described has Err set; the error returned is for the search path
// itself, or ctx's.
func (c *Client) DescribeAll(ctx context.Context) ([]Described, error) {
	infos, err := discover(c.cfg.path)
	if err != nil {
		return nil, err
	}
	out := make([]Described, len(infos))
	var wg sync.WaitGroup
	for i, info := range infos {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d, cached, err := c.describe(ctx, &info)
			out[i] = Described{PluginInfo: info, Description: d, Cached: cached, Err: err}
		}()
	}
	wg.Wait()
	return out, ctx.Err()
}

// Offering returns, in name order, the plugins whose Describe answer
// lists arch (see DescribeAll; plugins that fail are left out).
func (c *Client) Offering(ctx context.Context, arch string) ([]Described, error) {
	all, err := c.DescribeAll(ctx)
	if err != nil {
		return nil, err
	}
	var out []Described
	for _, d := range all {
		if d.Err != nil {
			continue
		}
		for _, a := range d.Description.Archs {
			if a.Name == arch {
				out = append(out, d)
				break
			}
		}
	}
	return out, nil
}
