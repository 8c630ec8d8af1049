package backbone

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/nn"
	"github.com/gozoo/gozoo/sdk/ort"
)

// maxGraphs bounds the input shapes whose graphs a model keeps.
const maxGraphs = 16

// graph is a net's graph for one input shape, with its layer list and
// the keys of the ONNX graphs it writes, per set of outputs.
type graph struct {
	b      *nn.Builder
	input  string
	layers []sdk.Layer
	keys   map[string]string
}

// key returns the GraphKey of outs (sorted, without duplicates).
func (g *graph) key(outs []string) (string, error) {
	k := strings.Join(outs, "\x00")
	if v, ok := g.keys[k]; ok {
		return v, nil
	}
	v, err := g.b.GraphKey(outs)
	if err != nil {
		return "", err
	}
	g.keys[k] = v
	return v, nil
}

// graphCache holds graphs by input shape, most recently used last. Its
// users serialise access.
type graphCache struct {
	shapes []string
	graphs map[string]*graph
}

func newGraphCache() *graphCache { return &graphCache{graphs: map[string]*graph{}} }

// get returns the graph of net for an input shape (batch -1), building it
// when the cache has none. A shape the net cannot take is an error.
func (c *graphCache) get(net Net, shape []int64) (*graph, error) {
	k := fmt.Sprint(shape)
	if g, ok := c.graphs[k]; ok {
		i := slices.Index(c.shapes, k)
		c.shapes = append(slices.Delete(c.shapes, i, i+1), k)
		return g, nil
	}
	b := net.Build(slices.Clone(shape))
	if err := b.Err(); err != nil {
		return nil, err
	}
	names := b.InputNames()
	if len(names) == 0 {
		return nil, fmt.Errorf("the graph has no input (a bug in the plugin)")
	}
	g := &graph{b: b, input: names[0], layers: b.Layers(), keys: map[string]string{}}
	if len(c.shapes) >= maxGraphs {
		delete(c.graphs, c.shapes[0])
		c.shapes = c.shapes[1:]
	}
	c.graphs[k] = g
	c.shapes = append(c.shapes, k)
	return g, nil
}

// Session cache bounds: each session holds a copy of the weights its
// graph needs, so models whose weights are large keep fewer.
const (
	maxSessions      = 4
	maxLargeSessions = 2
	largeWeights     = 256 << 20 // bytes
)

// SessionLimit is how many sessions a model whose weights take
// weightBytes keeps: 4, or 2 above 256 MiB.
func SessionLimit(weightBytes int64) int {
	if weightBytes > largeWeights {
		return maxLargeSessions
	}
	return maxSessions
}

// Sessions is a bounded cache of ONNX Runtime sessions, one per key
// (say, a graph and its outputs), most recently used last. A session is
// counted by its users: an evicted one closes when its last user releases
// it. It is safe for concurrent use.
type Sessions struct {
	mu     sync.Mutex
	max    int
	list   []*cached
	closed bool
}

// NewSessions returns a cache of at most limit sessions (at least 1).
func NewSessions(limit int) *Sessions { return &Sessions{max: max(1, limit)} }

// Lease is one use of a cached session; Release ends it.
type Lease struct {
	c *Sessions
	e *cached
}

// Session returns the leased session.
func (l *Lease) Session() *ort.Session { return l.e.s }

// Release ends the use; an evicted session closes with its last user.
func (l *Lease) Release() error {
	l.c.mu.Lock()
	defer l.c.mu.Unlock()
	l.e.refs--
	if l.e.evicted && l.e.refs == 0 {
		return l.e.s.Close()
	}
	return nil
}

type cached struct {
	key     string
	s       *ort.Session
	refs    int
	evicted bool
}

// Acquire returns a lease on the session for key, calling create to make
// it when the cache has none. It evicts the least recently used sessions
// before it creates, so that at most max copies of a model live besides
// those still running. An eviction error comes back with the lease.
// After Close it returns sdk.ErrClosed.
func (c *Sessions) Acquire(key string, create func() (*ort.Session, error)) (*Lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, sdk.ErrClosed
	}
	for i, e := range c.list {
		if e.key == key {
			c.list = append(slices.Delete(c.list, i, i+1), e)
			e.refs++
			return &Lease{c, e}, nil
		}
	}
	var evictErr error
	for len(c.list) >= c.max {
		evictErr = errors.Join(evictErr, c.list[0].evict())
		c.list = c.list[1:]
	}
	s, err := create()
	if err != nil {
		return nil, errors.Join(err, evictErr)
	}
	e := &cached{key: key, s: s, refs: 1}
	c.list = append(c.list, e)
	return &Lease{c, e}, evictErr
}

// Len returns the number of cached sessions.
func (c *Sessions) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.list)
}

func (e *cached) evict() error {
	e.evicted = true
	if e.refs == 0 {
		return e.s.Close()
	}
	return nil
}

// Close evicts every session; those in use close when released. It is
// idempotent.
func (c *Sessions) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var err error
	for _, e := range c.list {
		err = errors.Join(err, e.evict())
	}
	c.list = nil
	return err
}
