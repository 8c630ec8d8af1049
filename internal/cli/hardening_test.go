package cli

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/ort"
)

var (
	cliOnce sync.Once
	cliBin  string
	cliErr  error
)

// gozoo builds the gozoo command once per test process.
func gozoo(t testing.TB) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "gozoo-cli-test-")
		if err != nil {
			cliErr = err
			return
		}
		testenv.AtCleanup(func() { os.RemoveAll(dir) })
		cliBin = filepath.Join(dir, "gozoo")
		if out, err := exec.Command("go", "build", "-o", cliBin, "github.com/gozoo/gozoo/cmd/gozoo").CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("go build gozoo: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliBin
}

// toyPlugin returns the toy plugin binary.
func toyPlugin(t *testing.T) string {
	t.Helper()
	bin, err := toyplugin.Build()
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// running returns the ids of live processes whose executable is bin.
func running(bin string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err != nil || exe != bin {
			continue
		}
		if st, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			s := string(st)
			if i := strings.LastIndexByte(s, ')'); i > 0 && i+2 < len(s) && s[i+2] == 'Z' {
				continue // exited, not yet reaped
			}
		}
		out = append(out, pid)
	}
	return out
}

// waitRunning waits up to d for a process of bin to run.
func waitRunning(t *testing.T, bin string, d time.Duration) {
	t.Helper()
	for deadline := time.Now().Add(d); len(running(bin)) == 0; {
		if time.Now().After(deadline) {
			t.Fatalf("no %s process within %v", filepath.Base(bin), d)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// socketDirsOf lists the plugin socket folders of host process pid.
func socketDirsOf(pid int) []string {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), fmt.Sprintf("%s%d-*", backbonev1.SocketDirPrefix, pid)))
	return dirs
}

// slowExtract starts `gozoo extract` as a user types it, from a scratch
// folder with relative paths, on the toy plugin with a model that takes a
// minute per batch.
func slowExtract(t *testing.T) (*exec.Cmd, *bytes.Buffer, string) {
	t.Helper()
	bin, toy := gozoo(t), toyPlugin(t)
	work := t.TempDir()
	if err := npy.WriteFile(filepath.Join(work, "x.npy"), sdk.Zeros(2, 4)); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--plugin-path", filepath.Dir(toy), "extract", "--arch", "toy", "--opt", "delay_ms=60000",
		"--layers", "sum", "--out", "f.npz", "x.npy")
	cmd.Dir = work
	cmd.Env = append(os.Environ(), "GOZOO_CACHE="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	waitRunning(t, toy, 20*time.Second)
	time.Sleep(500 * time.Millisecond) // the Extract call is in flight
	return cmd, &stderr, toy
}

// TestInterrupt sends SIGINT (once, and twice) to gozoo during a long
// plugin call: it exits within 2 s with code 130 and leaves no plugin
// process and no socket folder.
func TestInterrupt(t *testing.T) {
	for _, times := range []int{1, 2} {
		t.Run(fmt.Sprintf("sigint-x%d", times), func(t *testing.T) {
			cmd, stderr, toy := slowExtract(t)
			start := time.Now()
			for i := 0; i < times; i++ {
				cmd.Process.Signal(syscall.SIGINT)
				time.Sleep(20 * time.Millisecond)
			}
			done := make(chan error, 1)
			go func() { done <- cmd.Wait() }()
			var err error
			select {
			case err = <-done:
			case <-time.After(10 * time.Second):
				t.Fatalf("gozoo still runs 10 s after SIGINT\n%s", stderr)
			}
			took := time.Since(start)
			t.Logf("exited %v after SIGINT: %v\n%s", took, err, stderr)
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != 130 {
				t.Errorf("gozoo after SIGINT: %v; want exit code 130", err)
			}
			if took > 2*time.Second {
				t.Errorf("gozoo took %v to exit after SIGINT; want at most 2 s", took)
			}
			time.Sleep(200 * time.Millisecond)
			if ps := running(toy); len(ps) > 0 {
				t.Errorf("toy plugin processes %v left after gozoo exited", ps)
			}
			if d := socketDirsOf(cmd.Process.Pid); len(d) > 0 {
				t.Errorf("socket folders %v left after gozoo exited", d)
			}
		})
	}
}

// TestHostDeath kills gozoo with SIGKILL during a plugin call, and with
// SIGPIPE by closing the pipe its output goes to (as `gozoo plugins |
// head -1` does): 2 s later no plugin process and no socket remain.
func TestHostDeath(t *testing.T) {
	t.Run("sigkill", func(t *testing.T) {
		cmd, _, toy := slowExtract(t)
		cmd.Process.Kill()
		cmd.Wait()
		time.Sleep(2 * time.Second)
		if ps := running(toy); len(ps) > 0 {
			t.Errorf("toy plugin processes %v run 2 s after gozoo was killed", ps)
		}
		for _, d := range socketDirsOf(cmd.Process.Pid) {
			t.Errorf("socket folder %s left 2 s after gozoo was killed", d)
		}
	})
	t.Run("sigpipe", func(t *testing.T) {
		bin, toy := gozoo(t), toyPlugin(t)
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		r.Close() // the reader is gone before gozoo writes
		cache := t.TempDir()
		cmd := exec.Command(bin, "--plugin-path", filepath.Dir(toy), "plugins")
		cmd.Env = append(os.Environ(), "GOZOO_CACHE="+cache) // cold: the plugin starts
		cmd.Stdout = w
		err = cmd.Run()
		w.Close()
		ws, _ := cmd.ProcessState.Sys().(syscall.WaitStatus)
		if !ws.Signaled() || ws.Signal() != syscall.SIGPIPE {
			t.Fatalf("gozoo plugins into a closed pipe: %v; want killed by SIGPIPE", err)
		}
		if b, _ := os.ReadFile(firstFile(t, filepath.Join(cache, "plugins"))); !bytes.Contains(b, []byte(`"description"`)) {
			t.Errorf("no Describe answer cached: the plugin did not run before gozoo died")
		}
		time.Sleep(2 * time.Second)
		if ps := running(toy); len(ps) > 0 {
			t.Errorf("toy plugin processes %v run 2 s after gozoo died of SIGPIPE", ps)
		}
		for _, d := range socketDirsOf(cmd.Process.Pid) {
			t.Errorf("socket folder %s left 2 s after gozoo died of SIGPIPE", d)
		}
	})
}

// TestPluginChoice: with a native plugin and a manifest plugin offering
// the same arch, extraction goes to the native one and says so; training
// (both can train) is an error naming both and --plugin.
func TestPluginChoice(t *testing.T) {
	toy := toyPlugin(t)
	dir := t.TempDir()
	if err := os.Symlink(toy, filepath.Join(dir, "gozoo-backbone-toy")); err != nil {
		t.Fatal(err)
	}
	man := fmt.Sprintf(`{"command": [%q]}`, toy)
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-atoy.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	_, stderr, err := execute(t, &Factory{}, "--plugin-path", dir, "layers", "toy")
	if err != nil {
		t.Fatalf("layers toy: %v\n%s", err, stderr)
	}
	if want := "toy: plugin toy (native; also offered by atoy)"; !strings.Contains(stderr, want) {
		t.Errorf("layers toy said %q; want %q", stderr, want)
	}
	_, stderr, err = execute(t, &Factory{}, "--plugin-path", dir, "layers", "toy", "--plugin", "atoy")
	if err != nil || !strings.Contains(stderr, "toy: plugin atoy (asked for by name)") {
		t.Errorf("layers toy --plugin atoy: %v\n%s", err, stderr)
	}
	f := &Factory{PluginPath: []string{dir}}
	defer f.Close()
	_, err = f.resolveFor(t.Context(), "toy", "", true)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--plugin atoy or --plugin toy") {
		t.Errorf("resolve for training = %v; want a usage error naming both plugins and --plugin", err)
	}
}

func TestChoosePlugin(t *testing.T) {
	d := func(name string, manifest, train bool) host.Described {
		return host.Described{PluginInfo: host.PluginInfo{Name: name, Manifest: manifest},
			Description: &sdk.Description{Name: name, Capabilities: sdk.Capabilities{Extract: true, Train: train}}}
	}
	resnet, vgg, torch := d("resnet", false, false), d("vgg", false, false), d("torch", true, true)
	tests := []struct {
		name    string
		offers  []host.Described
		asked   bool
		train   bool
		want    string
		why     string
		wantErr string
	}{
		{"native wins", []host.Described{torch, resnet}, false, false, "resnet", "native; also offered by torch", ""},
		{"only one", []host.Described{torch}, false, false, "torch", "manifest; the only plugin offering it", ""},
		{"asked", []host.Described{torch}, true, false, "torch", "asked for by name", ""},
		{"train", []host.Described{resnet, torch}, false, true, "torch", "can train; also offered by resnet, which cannot", ""},
		{"tie", []host.Described{resnet, vgg, torch}, false, false, "", "", "--plugin resnet or --plugin vgg"},
		{"nobody trains", []host.Described{resnet, vgg}, false, true, "", "", "no plugin that can train"},
	}
	for _, tt := range tests {
		got, why, err := choosePlugin("a", tt.offers, tt.asked, tt.train)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: choosePlugin = %s, %v; want an error containing %q", tt.name, got.Name, err, tt.wantErr)
			}
		case err != nil || got.Name != tt.want || why != tt.why:
			t.Errorf("%s: choosePlugin = %s (%s), %v; want %s (%s)", tt.name, got.Name, why, err, tt.want, tt.why)
		}
	}
}

// TestLayersStartsOnePlugin runs `gozoo layers vgg16` with the resnet and
// vgg plugins installed behind wrappers that log every start: with the
// plugins' answers cached, exactly one plugin process starts, the vgg
// one, and the command says so.
func TestLayersStartsOnePlugin(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	built := testenv.BuildPlugin(t, "resnet")
	testenv.BuildPlugin(t, "vgg")
	dir, work, cache := t.TempDir(), t.TempDir(), t.TempDir()
	log := filepath.Join(work, "starts.log")
	for _, name := range []string{"resnet", "vgg"} {
		script := fmt.Sprintf("#!/bin/sh\necho %s >> %s\nexec %s \"$@\"\n", name, log, filepath.Join(built, "gozoo-backbone-"+name))
		if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-"+name), []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	run := func() string {
		t.Helper()
		cmd := exec.Command(gozoo(t), "--plugin-path", dir, "layers", "vgg16")
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "GOZOO_CACHE="+cache, "GOZOO_ORT_LIB="+ort.LibraryPath())
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			t.Fatalf("gozoo layers vgg16: %v\n%s", err, stderr.String())
		}
		if !strings.Contains(stdout.String(), "features.28") {
			t.Errorf("gozoo layers vgg16 lists no features.28:\n%s", stdout.String())
		}
		return stderr.String()
	}
	starts := func() []string {
		b, _ := os.ReadFile(log)
		return strings.Fields(string(b))
	}
	run() // cold cache: every plugin is asked once
	cold := starts()
	stderr := run()
	warm := starts()[len(cold):]
	t.Logf("cold run started %v; warm run started %v", cold, warm)
	if len(warm) != 1 || warm[0] != "vgg" {
		t.Errorf("gozoo layers vgg16 with a warm cache started %v; want exactly [vgg]", warm)
	}
	if want := "vgg16: plugin vgg (native; the only plugin offering it)"; !strings.Contains(stderr, want) {
		t.Errorf("gozoo layers vgg16 said %q; want %q", stderr, want)
	}
	for _, name := range []string{"resnet", "vgg"} {
		if ps := running(filepath.Join(built, "gozoo-backbone-"+name)); len(ps) > 0 {
			t.Errorf("%s plugin processes %v left after gozoo exited", name, ps)
		}
	}
}

// firstFile returns the first file in dir, or "".
func firstFile(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(m) == 0 {
		return ""
	}
	return m[0]
}
