package cli

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestReadBuildVersion(t *testing.T) {
	stamped := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "v1.2.3"}, Settings: []debug.BuildSetting{
		{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.time", Value: "2026-12-01T00:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	clean := &debug.BuildInfo{GoVersion: "go1.99", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "def456"}, {Key: "vcs.modified", Value: "false"}}}
	for _, tc := range []struct {
		name   string
		bi     *debug.BuildInfo
		ok     bool
		commit string // the -ldflags value
		want   []string
	}{
		{"stamped dirty", stamped, true, "", []string{"gozoo        v1.2.3", "commit       abc123 2026-12-01T00:00:00Z, dirty: built with uncommitted changes (from vcs stamp)", "go           go1.99"}},
		{"stamped clean", clean, true, "", []string{"gozoo        (devel)", "commit       def456, clean (from vcs stamp)"}},
		{"stamp wins over ldflags", clean, true, "fff", []string{"def456"}},
		{"make build", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, true, "0123abc", []string{"commit       0123abc, dirty: built with uncommitted changes (from make build)"}},
		{"nothing", nil, false, "", []string{"gozoo        unknown", "commit       unknown: built without VCS information"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, oldDirty := gitCommit, gitDirty
			gitCommit, gitDirty = tc.commit, "true"
			defer func() { gitCommit, gitDirty = old, oldDirty }()
			var b bytes.Buffer
			readBuildVersion(tc.bi, tc.ok).write(&b)
			for _, w := range tc.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("version output lacks %q:\n%s", w, b.String())
				}
			}
		})
	}
}

// TestVersionBinary builds gozoo as make build does and runs gozoo
// version and gozoo --version: both name this checkout's commit and
// whether it has uncommitted changes, the Go version and ONNX Runtime's.
func TestVersionBinary(t *testing.T) {
	head, err := exec.Command("git", "rev-parse", "HEAD").Output()
	if err != nil {
		t.Skipf("not in a git checkout: %v", err)
	}
	status, err := exec.Command("git", "status", "--porcelain").Output()
	if err != nil {
		t.Fatal(err)
	}
	dirty := "false"
	if len(bytes.TrimSpace(status)) > 0 {
		dirty = "true"
	}
	commit := strings.TrimSpace(string(head))
	bin := filepath.Join(t.TempDir(), "gozoo")
	out, err := exec.Command("make", "-s", "-C", "../..", "-n", "build").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "cli.gitCommit="+commit) || !strings.Contains(string(out), "cli.gitDirty="+dirty) {
		t.Fatalf("make build does not pass the commit %s (dirty %s):\n%s", commit, dirty, out)
	}
	ld := "-X github.com/gozoo/gozoo/internal/cli.gitCommit=" + commit + " -X github.com/gozoo/gozoo/internal/cli.gitDirty=" + dirty
	if out, err := exec.Command("go", "build", "-ldflags", ld, "-o", bin, "github.com/gozoo/gozoo/cmd/gozoo").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	state := "clean"
	if dirty == "true" {
		state = "dirty"
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		out, err := exec.Command(bin, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("gozoo %s: %v\n%s", args[0], err, out)
		}
		for _, w := range []string{"commit       " + commit, state, "go           go1.", "onnxruntime  "} {
			if !strings.Contains(string(out), w) {
				t.Errorf("gozoo %s output lacks %q:\n%s", args[0], w, out)
			}
		}
	}
}
