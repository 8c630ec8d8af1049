package imageproc

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"sync"
)

// ErrOverBudget reports an image whose decoding needs more memory than a
// whole Budget.
var ErrOverBudget = errors.New("imageproc: image needs more memory than the decoding budget")

// DefaultDecodeMemory is the budget of DefaultBudget, 2 GiB: enough to
// decode any one image under MaxPixels (about 10 bytes a pixel while it is
// decoded and transformed), so the budget bounds how many decode at once
// rather than which images are accepted.
const DefaultDecodeMemory = 2 << 30

// Budget bounds the bytes that images being decoded hold at once, across
// goroutines: each decode takes its estimated cost (the file's bytes plus
// its decoded pixels, from the header) before reading the file and gives it
// back when the caller is done with the image, waiting in turn (first come,
// first served) while the budget is spent. An image whose cost alone is
// over the budget is refused with ErrOverBudget. A Budget is safe for
// concurrent use.
type Budget struct {
	mu      sync.Mutex
	limit   int64
	used    int64
	peak    int64
	waiters list.List // of *waiter, in arrival order
}

type waiter struct {
	n     int64
	ready chan struct{} // closed when granted
}

// NewBudget returns a budget of limit bytes (at least 1).
func NewBudget(limit int64) *Budget {
	return &Budget{limit: max(limit, 1)}
}

var (
	defaultOnce   sync.Once
	defaultBudget *Budget
)

// DefaultBudget is the budget of DefaultDecodeMemory that decoders in this
// process share when no other is given.
func DefaultBudget() *Budget {
	defaultOnce.Do(func() { defaultBudget = NewBudget(DefaultDecodeMemory) })
	return defaultBudget
}

// Limit is the budget's size in bytes.
func (b *Budget) Limit() int64 { return b.limit }

// Peak is the most bytes held at once so far.
func (b *Budget) Peak() int64 {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.peak
}

// acquire takes n bytes, waiting until they are free or ctx is done.
func (b *Budget) acquire(ctx context.Context, n int64) error {
	if n > b.limit {
		return fmt.Errorf("%w: it needs about %s; the budget is %s", ErrOverBudget, FormatBytes(n), FormatBytes(b.limit))
	}
	b.mu.Lock()
	if b.waiters.Len() == 0 && b.used+n <= b.limit {
		b.take(n)
		b.mu.Unlock()
		return nil
	}
	w := &waiter{n: n, ready: make(chan struct{})}
	e := b.waiters.PushBack(w)
	b.mu.Unlock()
	select {
	case <-w.ready:
		return nil
	case <-ctx.Done():
		b.mu.Lock()
		select {
		case <-w.ready: // granted meanwhile: give it back
			b.used -= n
			b.grant()
		default:
			b.waiters.Remove(e)
			b.grant() // a smaller waiter behind may fit now
		}
		b.mu.Unlock()
		return ctx.Err()
	}
}

// release gives back n bytes taken by acquire.
func (b *Budget) release(n int64) {
	b.mu.Lock()
	b.used -= n
	b.grant()
	b.mu.Unlock()
}

func (b *Budget) take(n int64) {
	b.used += n
	b.peak = max(b.peak, b.used)
}

// grant wakes waiters in order while the first one fits. b.mu is held.
func (b *Budget) grant() {
	for e := b.waiters.Front(); e != nil; e = b.waiters.Front() {
		w := e.Value.(*waiter)
		if b.used+w.n > b.limit {
			return
		}
		b.take(w.n)
		b.waiters.Remove(e)
		close(w.ready)
	}
}

// FormatBytes shows n bytes in KiB, MiB or GiB.
func FormatBytes(n int64) string {
	switch f := float64(n); {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", f/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", f/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", f/(1<<10))
	default:
		return fmt.Sprintf("%d bytes", n)
	}
}
