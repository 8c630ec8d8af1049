package plugin_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func TestMain(m *testing.M) {
	code := m.Run()
	toyplugin.Cleanup()
	os.Exit(code)
}

// TestServeErrors checks that Serve returns, rather than exits, for an
// invalid option, a nil backbone and a binary no host started.
func TestServeErrors(t *testing.T) {
	t.Setenv(plugin.Handshake.MagicCookieKey, "")
	if err := plugin.Serve(toyplugin.New(), plugin.WithLogLevel("loud")); err == nil || !strings.Contains(err.Error(), `"loud"`) {
		t.Errorf("Serve(WithLogLevel(loud)) = %v; want an error naming the level", err)
	}
	if err := plugin.Serve(nil); err == nil {
		t.Errorf("Serve(nil) = nil; want an error")
	}
	err := plugin.Serve(toyplugin.New())
	if !errors.Is(err, plugin.ErrNoHost) || !strings.Contains(err.Error(), "gozoo plugins") {
		t.Errorf("Serve without a host = %v; want ErrNoHost with a hint", err)
	}
}

// TestRunByHand runs a plugin binary as a user would, without a host: it
// prints the hint and exits 1, serving nothing.
func TestRunByHand(t *testing.T) {
	bin, err := toyplugin.Build()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), plugin.Handshake.MagicCookieKey+"=")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err = cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("gozoo-backbone-toy run by hand: %v; want exit status 1", err)
	}
	if msg := stderr.String(); !strings.Contains(msg, "gozoo-backbone-toy is a gozoo backbone plugin") || !strings.Contains(msg, plugin.ErrNoHost.Error()) {
		t.Errorf("stderr = %q; want the hint naming the binary", msg)
	}
	if stdout.Len() != 0 {
		t.Errorf("stdout = %q; want nothing (no handshake line)", stdout.String())
	}
}
