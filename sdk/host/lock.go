package host

import (
	"context"
	"sync"
)

// ctxMutex is a mutual exclusion lock whose waiters can give up when
// their context ends: a plugin's start or a model's load may hold it for
// seconds. The zero value is unlocked.
type ctxMutex struct {
	once sync.Once
	ch   chan struct{}
}

func (m *ctxMutex) c() chan struct{} {
	m.once.Do(func() { m.ch = make(chan struct{}, 1) })
	return m.ch
}

// Lock waits for the lock.
func (m *ctxMutex) Lock() { m.c() <- struct{}{} }

// LockCtx waits for the lock until ctx ends, and then returns ctx.Err()
// without it.
func (m *ctxMutex) LockCtx(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case m.c() <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// TryLock takes the lock when it is free, and reports whether it did.
func (m *ctxMutex) TryLock() bool {
	select {
	case m.c() <- struct{}{}:
		return true
	default:
		return false
	}
}

// Unlock releases the lock.
func (m *ctxMutex) Unlock() {
	select {
	case <-m.c():
	default:
		panic("host: unlock of an unlocked ctxMutex")
	}
}
