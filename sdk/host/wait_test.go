package host_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/sdk"
)

// waitFor polls cond until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen within %v", what, d)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestStartWaitHonoursContext: a caller waiting for another caller's slow
// plugin start gives up when its context ends, with an error naming the
// plugin.
func TestStartWaitHonoursContext(t *testing.T) {
	t.Setenv("TOY_START_DELAY_MS", "4000")
	c := newClient(t)
	first := make(chan error, 1)
	go func() {
		_, err := c.Backbone(context.Background(), "toy")
		first <- err
	}()
	waitFor(t, 10*time.Second, "the first start", func() bool { return c.Starts() == 1 })

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Backbone(ctx, "toy")
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "toy") {
		t.Errorf("Backbone(toy) with a 200 ms context while another start runs = %v; want DeadlineExceeded naming the plugin", err)
	}
	if took > 2*time.Second {
		t.Errorf("the waiting caller returned after %v; want about its 200 ms context", took)
	}
	if err := <-first; err != nil {
		t.Errorf("the slow start failed: %v", err)
	}
	if c.Starts() != 1 {
		t.Errorf("%d starts; want 1", c.Starts())
	}
}

// TestLoadWaitHonoursContext: a call waiting for another call's reload of
// the same model (after its plugin died) gives up when its context ends.
func TestLoadWaitHonoursContext(t *testing.T) {
	c := newClient(t)
	m := load(t, toy(t, c), nil)
	pid, err := c.PID("toy")
	if err != nil {
		t.Fatal(err)
	}
	// The restarted process loads slowly.
	t.Setenv("TOY_LOAD_DELAY_MS", "4000")
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, "the plugin's death", func() bool { return gone(pid, 0) })

	first := make(chan error, 1)
	go func() {
		_, err := m.Extract(context.Background(), &sdk.ExtractRequest{Layers: []string{"sum"}, Input: rows(2, 4)})
		first <- err
	}()
	// Once the new process runs, the first call is loading the model in it.
	waitFor(t, 10*time.Second, "the restart", func() bool {
		p, err := c.PID("toy")
		return err == nil && p != pid
	})
	time.Sleep(300 * time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"sum"}, Input: rows(2, 4)})
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "toy") {
		t.Errorf("Extract with a 300 ms context while the model reloads = %v; want DeadlineExceeded naming the plugin", err)
	}
	if took > 2*time.Second {
		t.Errorf("the waiting call returned after %v; want about its 300 ms context", took)
	}
	if err := <-first; err != nil {
		t.Errorf("the call that reloaded the model failed: %v", err)
	}
}
