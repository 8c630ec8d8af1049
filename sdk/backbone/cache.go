package backbone

import (
	"errors"
	"fmt"
	"slices"
	"strings"

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

// cached is one ONNX Runtime session, counted by its users (refs).
type cached struct {
	key     string
	s       *ort.Session
	refs    int
	evicted bool
}

// sessionCache holds a model's sessions, most recently used last. Its
// methods are called with the model's lock held.
type sessionCache struct {
	max  int
	list []*cached
}

func newSessionCache(weightBytes int64) *sessionCache {
	n := maxSessions
	if weightBytes > largeWeights {
		n = maxLargeSessions
	}
	return &sessionCache{max: n}
}

// get returns the session for key with one more user, or nil.
func (c *sessionCache) get(key string) *cached {
	for i, s := range c.list {
		if s.key == key {
			c.list = append(slices.Delete(c.list, i, i+1), s)
			s.refs++
			return s
		}
	}
	return nil
}

// makeRoom evicts the least recently used sessions until one more fits.
func (c *sessionCache) makeRoom() error {
	var err error
	for len(c.list) >= c.max {
		err = errors.Join(err, c.list[0].evict())
		c.list = c.list[1:]
	}
	return err
}

// add caches a new session with one user.
func (c *sessionCache) add(key string, s *ort.Session) *cached {
	e := &cached{key: key, s: s, refs: 1}
	c.list = append(c.list, e)
	return e
}

// evict drops the cache's reference; a session in use closes when its
// last user releases it.
func (e *cached) evict() error {
	e.evicted = true
	if e.refs == 0 {
		return e.s.Close()
	}
	return nil
}

// close evicts every session.
func (c *sessionCache) close() error {
	var err error
	for _, e := range c.list {
		err = errors.Join(err, e.evict())
	}
	c.list = nil
	return err
}
