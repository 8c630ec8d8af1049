package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
)

// TestUnknownArchSuggestsOnce runs gozoo with two plugins offering the same
// archs: the "did you mean" list names each arch once.
func TestUnknownArchSuggestsOnce(t *testing.T) {
	built := filepath.Join(testenv.BuildPlugin(t, "resnet"), "gozoo-backbone-resnet")
	work := t.TempDir()
	if err := os.Mkdir(filepath.Join(work, "plugins"), 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(built)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gozoo-backbone-resnet", "gozoo-backbone-resnetb"} {
		if err := os.WriteFile(filepath.Join(work, "plugins", name), b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(gozoo(t), "--plugin-path", "plugins", "layers", "resnt18")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "XDG_CACHE_HOME="+filepath.Join(work, "cache"), "HOME="+work)
	out, err := cmd.CombinedOutput()
	if err == nil {
		t.Fatalf("gozoo layers resnt18 succeeded:\n%s", out)
	}
	msg := string(out)
	_, list, ok := strings.Cut(msg, "did you mean ")
	if !ok {
		t.Fatalf("no suggestion in:\n%s", msg)
	}
	list, _, _ = strings.Cut(list, "?")
	seen := map[string]bool{}
	for _, n := range strings.Split(list, ", ") {
		if seen[n] {
			t.Errorf("suggestion %q repeated in %q", n, list)
		}
		seen[n] = true
	}
	if !seen["resnet18"] {
		t.Errorf("suggestions %q lack resnet18", list)
	}
}
