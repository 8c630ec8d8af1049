package host

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/gozoo/gozoo/sdk"
)

// Described is one plugin's Describe answer, or why there is none.
type Described struct {
	PluginInfo
	Description *sdk.Description // nil when Err is set
	Cached      bool             // answered from the cache, without starting the plugin
	Err         error
}

// ErrSkipped is wrapped by the error of a plugin that DescribeAll and
// Offering skipped without starting it, because the same file (same
// path, size, times, inode and sha256) failed to start before.
var ErrSkipped = errors.New("host: plugin skipped")

// Describe returns the Describe answer of the plugin named name. It
// answers from the cache (see WithCacheDir) when the plugin file is the
// one that answered before (same path, size, times, inode and sha256);
// otherwise it starts the plugin, which then keeps running for later
// calls, and caches its answer. A plugin whose file failed to start
// before is started again: asking for a plugin by name always tries it.
// The answer is shared: do not modify it.
func (c *Client) Describe(ctx context.Context, name string) (*sdk.Description, error) {
	info, err := c.find(name)
	if err != nil {
		return nil, err
	}
	d, _, err := c.describe(ctx, &info, true)
	return d, err
}

// describe fills in info.SHA256 and returns the plugin's answer and
// whether it came from the cache. A start that fails is cached, and
// unless retry is set a file whose start failed before is not started
// again: its error wraps ErrSkipped and says why.
func (c *Client) describe(ctx context.Context, info *PluginInfo, retry bool) (*sdk.Description, bool, error) {
	e, err := c.identify(info)
	if err != nil {
		return nil, false, err
	}
	if e != nil && e.Description != nil {
		return e.Description, true, nil
	}
	if e != nil && e.Failure != "" && !retry && time.Since(time.Unix(e.FailedAt, 0)) < failureRetry {
		reason := oneLine(e.Failure)
		c.hlog.Warn("skipping a plugin that failed to start; it is tried again when its file changes, after "+failureRetry.String()+", or when it is asked for by name",
			"plugin", info.Name, "path", info.Path, "reason", reason)
		return nil, true, fmt.Errorf("%w: %s (%s) failed to start before and has not changed since; it is tried again when its file changes, after %v, or when it is asked for by name: %s",
			ErrSkipped, info.Name, info.Path, failureRetry, e.Failure)
	}
	p, err := c.proc(info.Name)
	if err != nil {
		return nil, false, err
	}
	d, err := p.description(ctx)
	var se *startError
	switch {
	case err == nil:
		c.remember(p.info, d, "")
	case errors.As(err, &se) && ctx.Err() == nil:
		c.remember(p.info, nil, se.Error())
	}
	return d, false, err
}

// maxReason bounds the reason a skipped plugin's warning gives.
const maxReason = 400

// oneLine folds text onto one line, keeping its start and its end (where
// a plugin's stderr tail says what went wrong) when it is long.
func oneLine(text string) string {
	s := strings.Join(strings.Fields(text), " ")
	if len(s) > maxReason {
		s = strings.ToValidUTF8(s[:maxReason/3], "") + " ... " + strings.ToValidUTF8(s[len(s)-2*maxReason/3:], "")
	}
	return s
}

// DescribeAll describes every plugin on the search path as Describe does,
// in name order, starting only plugins the cache has no answer for (at
// the same time, so that slow starts do not add up). A plugin that cannot
// be described has Err set; one whose file failed to start before is not
// started again until the file changes, and has Err wrap ErrSkipped (a
// warning naming it, its path and the reason is logged); the error returned is for the search path
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
			d, cached, err := c.describe(ctx, &info, false)
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
