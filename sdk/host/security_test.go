package host_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
)

// buildTool compiles the program in testdata/NAME into a folder every
// user may enter and returns its path.
func buildTool(t *testing.T, name string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "gozoo-tool-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/"+name).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", name, err, out)
	}
	return bin
}

// sockets returns the Unix sockets under dir.
func sockets(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type()&fs.ModeSocket != 0 {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// selfSigned writes a certificate and key a client could present, as
// cert.pem and key.pem in dir, and returns the certificate's PEM.
func selfSigned(t *testing.T, dir string) (certPath, keyPath string, certPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(7), Subject: pkix.Name{CommonName: "localhost"}, DNSNames: []string{"localhost"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	certPath, keyPath = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certPath, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o644); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath, certPEM
}

// TestChannelPrivate attacks a plugin started the way gozoo starts it:
// another user cannot reach its socket, and this user cannot complete an
// RPC without the host's certificate, over TLS or in plain text. A
// plugin started by hand with a certificate the test holds answers the
// same client, so the client itself works.
func TestChannelPrivate(t *testing.T) {
	if os.Getuid() != 0 {
		testenv.Missing(t, "root", "run the tests as root (CI does) so that a client can run as user nobody")
	}
	if _, err := exec.LookPath("setpriv"); err != nil {
		testenv.Missing(t, "setpriv", "apt-get install util-linux")
	}
	dial := buildTool(t, "dial")
	c := newClient(t)
	load(t, toy(t, c), nil)
	socks := sockets(t, c.SocketDir())
	if len(socks) != 1 {
		t.Fatalf("sockets under %s = %v; want the toy plugin's one", c.SocketDir(), socks)
	}
	sock := socks[0]
	for _, d := range []string{c.SocketDir(), filepath.Dir(sock)} {
		if st, err := os.Stat(d); err != nil || st.Mode().Perm() != 0o700 {
			t.Errorf("socket folder %s: mode %v, %v; want 0700", d, st.Mode().Perm(), err)
		}
	}

	out, err := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", dial, sock).CombinedOutput()
	t.Logf("as nobody:\n%s", out)
	if err == nil || !strings.Contains(string(out), "connect:") || !strings.Contains(string(out), "permission denied") {
		t.Errorf("dial as nobody: %v\n%s\nwant the connection refused with permission denied", err, out)
	}

	certPath, keyPath, _ := selfSigned(t, t.TempDir())
	for _, args := range [][]string{{sock}, {sock, certPath, keyPath}} {
		out, err := exec.Command(dial, args...).CombinedOutput()
		t.Logf("as this user with %q:\n%s", args[1:], out)
		if err == nil || !strings.Contains(string(out), "connect: ok") || strings.Contains(string(out), ": ok toy") {
			t.Errorf("dial %q as the same user: %v\n%s\nwant connected, but no RPC answered", args[1:], err, out)
		}
	}

	// Positive control: the same client, holding the certificate the
	// plugin was started with, drives it.
	dir := t.TempDir()
	sockDir := filepath.Join(dir, "sock")
	os.Mkdir(sockDir, 0o700)
	certPath, keyPath, certPEM := selfSigned(t, dir)
	cmd := exec.Command(toyBin)
	cmd.Env = append(os.Environ(), backbonev1.Handshake.MagicCookieKey+"="+backbonev1.Handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_CLIENT_CERT="+string(certPEM), "PLUGIN_UNIX_SOCKET_DIR="+sockDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	parts := strings.Split(strings.TrimSpace(line), "|")
	if err != nil || len(parts) < 6 || parts[2] != "unix" || parts[5] == "" {
		t.Fatalf("handshake %q, %v; want 1|1|unix|SOCKET|grpc|CERT", line, err)
	}
	out, err = exec.Command(dial, parts[3], certPath, keyPath).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "tls: ok toy") || !strings.Contains(string(out), "plain: ") {
		t.Errorf("dial with the plugin's client certificate: %v\n%s\nwant Describe answered over TLS only", err, out)
	}
	if strings.Contains(string(out), "plain: ok") {
		t.Errorf("the plugin answered in plain text:\n%s", out)
	}
}

// TestUnresponsive stops a plugin (SIGSTOP) in the middle of a call: the
// liveness check kills it within the bound, the call fails naming it, and
// the next call runs in a new process.
func TestUnresponsive(t *testing.T) {
	const every, bound = 200 * time.Millisecond, time.Second
	c := newClient(t, host.WithLiveness(every, bound))
	bb := toy(t, c)
	slow := load(t, bb, map[string]string{"delay_ms": "60000"})
	pid, err := c.PID("toy")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := slow.Extract(context.Background(), &sdk.ExtractRequest{Layers: []string{"sum"}, Input: rows(2, 4)})
		errc <- err
	}()
	time.Sleep(300 * time.Millisecond)
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	defer syscall.Kill(pid, syscall.SIGCONT)
	var got error
	select {
	case got = <-errc:
	case <-time.After(bound + 10*time.Second):
		t.Fatalf("Extract on a stopped plugin did not return within %v", bound+10*time.Second)
	}
	took := time.Since(start)
	if !errors.Is(got, host.ErrUnresponsive) || !errors.Is(got, sdk.ErrPluginCrashed) || !strings.Contains(got.Error(), "plugin toy") {
		t.Fatalf("Extract on a stopped plugin = %v; want ErrUnresponsive and ErrPluginCrashed naming plugin toy", got)
	}
	t.Logf("stopped plugin detected after %v (bound %v): %v", took, bound, got)
	if took > bound+4*time.Second {
		t.Errorf("Extract took %v to fail; want about the bound %v", took, bound)
	}
	if !gone(pid, 2*time.Second) {
		t.Errorf("stopped plugin %d still exists", pid)
	}
	m := load(t, bb, nil)
	if _, err := m.Extract(context.Background(), &sdk.ExtractRequest{Layers: []string{"sum"}, Input: rows(2, 4)}); err != nil {
		t.Errorf("Extract after the kill = %v; want a new process to answer", err)
	}
	if pid2, _ := c.PID("toy"); pid2 == pid {
		t.Errorf("the plugin still runs as %d", pid)
	}
}

// gone waits up to d for process pid to end, and reports whether it did.
func gone(pid int, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for {
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) || zombie(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// zombie reports whether pid is a process that has exited but not been
// reaped.
func zombie(pid int) bool {
	b, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "stat"))
	if err != nil {
		return true
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

// TestCancel: a call honours its context even when the plugin is slow.
func TestCancel(t *testing.T) {
	c := newClient(t)
	m := load(t, toy(t, c), map[string]string{"delay_ms": "60000"})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := m.Extract(ctx, &sdk.ExtractRequest{Layers: []string{"sum"}, Input: rows(2, 4)})
	if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "DeadlineExceeded") {
		t.Errorf("Extract past its deadline = %v; want a deadline error", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("Extract returned %v after its deadline", d)
	}
}

// TestStartTimeout: a plugin that never completes its handshake costs the
// start timeout once, and leaves no process.
func TestStartTimeout(t *testing.T) {
	dir := t.TempDir()
	mark := filepath.Join(dir, "pid")
	script := "#!/bin/sh\necho $$ > " + mark + "\nexec sleep 60\n"
	if err := os.WriteFile(filepath.Join(dir, "gozoo-backbone-mute"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	c, err := host.New(host.WithPluginPath(dir), host.WithStartTimeout(700*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	start := time.Now()
	_, err = c.Backbone(context.Background(), "mute")
	if err == nil || !strings.Contains(err.Error(), "mute") {
		t.Errorf("Backbone(mute) = %v; want a start error naming the plugin", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("a mute plugin cost %v; want about the start timeout", d)
	}
	b, _ := os.ReadFile(mark)
	pid := 0
	for _, ch := range strings.TrimSpace(string(b)) {
		pid = pid*10 + int(ch-'0')
	}
	if pid == 0 {
		t.Fatal("the mute plugin never ran")
	}
	if !gone(pid, 2*time.Second) {
		t.Errorf("mute plugin %d still runs after its start timed out", pid)
	}

	// Cancelling the context ends a start at once.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	c2, err := host.New(host.WithPluginPath(dir))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	start = time.Now()
	if _, err := c2.Backbone(ctx, "mute"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Backbone(mute) with a 100 ms context = %v; want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cancelled start took %v", d)
	}
}

// processesOf returns the ids of running processes whose executable is
// bin (a /proc scan).
func processesOf(bin string) []int {
	var out []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid := 0
		for _, ch := range e.Name() {
			if ch < '0' || ch > '9' {
				pid = -1
				break
			}
			pid = pid*10 + int(ch-'0')
		}
		if pid <= 0 {
			continue
		}
		if exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe")); err == nil && exe == bin && !zombie(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// TestHostKilled SIGKILLs a host: its plugin exits within 2 s and leaves
// no socket, and the next host removes what is left of the dead host's
// folder.
func TestHostKilled(t *testing.T) {
	if _, err := os.Stat("/proc/self/exe"); err != nil {
		t.Skip("needs /proc (Linux)")
	}
	prog := buildTool(t, "hostprog")
	cmd := exec.Command(prog, filepath.Dir(toyBin))
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var pid int
	var sockDir string
	if f := strings.Fields(line); err != nil || len(f) != 2 {
		cmd.Process.Kill()
		t.Fatalf("hostprog said %q, %v; want PID SOCKETDIR", line, err)
	} else {
		pid, sockDir = atoi(f[0]), f[1]
	}
	if n := len(sockets(t, sockDir)); n != 1 {
		t.Errorf("%d sockets under %s before the kill; want 1", n, sockDir)
	}
	cmd.Process.Kill()
	cmd.Wait()
	time.Sleep(2 * time.Second)
	if !gone(pid, 0) {
		t.Errorf("plugin %d still runs 2 s after its host was killed", pid)
	}
	if ps := processesOf(toyBin); len(ps) > 0 {
		t.Errorf("toy plugin processes %v run 2 s after their host was killed", ps)
	}
	if s := sockets(t, sockDir); len(s) > 0 {
		t.Errorf("sockets %v left 2 s after the host was killed", s)
	}
	if _, err := os.Stat(sockDir); err == nil {
		t.Errorf("socket folder %s of the dead host is left", sockDir)
	}
}

func atoi(s string) int {
	n := 0
	for _, ch := range s {
		n = n*10 + int(ch-'0')
	}
	return n
}

// TestCloseRemovesSockets: Close removes the socket folder, and a new
// host sweeps the folders dead hosts left.
func TestCloseRemovesSockets(t *testing.T) {
	stale := filepath.Join(os.TempDir(), backbonev1.SocketDirPrefix+"999999999-1")
	if err := os.MkdirAll(filepath.Join(stale, "toy-1"), 0o700); err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(stale)
	c, err := host.New(host.WithPluginPath(filepath.Dir(toyBin)))
	if err != nil {
		t.Fatal(err)
	}
	toy(t, c)
	dir := c.SocketDir()
	if dir == "" || len(sockets(t, dir)) != 1 {
		t.Fatalf("SocketDir() = %q with sockets %v; want one socket", dir, sockets(t, dir))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); err == nil {
		t.Errorf("socket folder %s left after Close", dir)
	}
	if os.Getenv("XDG_RUNTIME_DIR") == "" {
		if _, err := os.Stat(stale); err == nil {
			t.Errorf("stale socket folder %s of a dead host was not swept", stale)
		}
	}
}

// copyFile copies src to dst (mode 0755) through a temporary file and a
// rename, as an installer replaces a binary that may be running.
func copyFile(t *testing.T, src, dst string, extra []byte) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	tmp := dst + ".new"
	if err := os.WriteFile(tmp, append(b, extra...), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// TestReplacedBinaryRefused replaces a running plugin's binary after
// discovery and kills the process: the restart refuses the new file with
// ErrChecksum, pinned or not.
func TestReplacedBinaryRefused(t *testing.T) {
	for _, pinned := range []bool{false, true} {
		t.Run(map[bool]string{false: "unpinned", true: "pinned"}[pinned], func(t *testing.T) {
			dir := t.TempDir()
			bin := filepath.Join(dir, "gozoo-backbone-toy")
			copyFile(t, toyBin, bin, nil)
			opts := []host.Option{host.WithPluginPath(dir)}
			if pinned {
				sum, err := fileSum(bin)
				if err != nil {
					t.Fatal(err)
				}
				opts = append(opts, host.WithChecksums(map[string]string{"toy": sum}))
			}
			c, err := host.New(opts...)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			m := load(t, toy(t, c), nil)
			x := &sdk.ExtractRequest{Layers: []string{"sum"}, Input: rows(2, 4)}
			if _, err := m.Extract(context.Background(), x); err != nil {
				t.Fatal(err)
			}
			starts := c.Starts()
			// The same program plus one byte: it would run, but it is not
			// the file that was found.
			copyFile(t, toyBin, bin, []byte{0})
			pid, _ := c.PID("toy")
			syscall.Kill(pid, syscall.SIGKILL)
			gone(pid, 2*time.Second)
			_, err = m.Extract(context.Background(), x)
			if !errors.Is(err, host.ErrChecksum) || !strings.Contains(err.Error(), bin) || !strings.Contains(err.Error(), "changed after it was found") {
				t.Fatalf("Extract after the binary was replaced = %v; want ErrChecksum naming %s", err, bin)
			}
			if ps := processesOf(bin); len(ps) > 0 {
				t.Errorf("the replaced binary runs as %v", ps)
			}
			t.Logf("starts %d -> %d: %v", starts, c.Starts(), err)
		})
	}
}

// TestDescribeCache: Describe answers come from the cache while the
// plugin file is unchanged, start the plugin when it changed, and a
// corrupt cache entry is ignored and rewritten.
func TestDescribeCache(t *testing.T) {
	dir, cache := t.TempDir(), t.TempDir()
	bin := filepath.Join(dir, "gozoo-backbone-toy")
	copyFile(t, toyBin, bin, nil)
	describe := func(wantStarts int) *sdk.Description {
		t.Helper()
		c, err := host.New(host.WithPluginPath(dir), host.WithCacheDir(cache))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		d, err := c.Describe(context.Background(), "toy")
		if err != nil {
			t.Fatalf("Describe(toy) = %v", err)
		}
		offers, err := c.Offering(context.Background(), "toy")
		if err != nil || len(offers) != 1 || offers[0].Name != "toy" || offers[0].SHA256 == "" {
			t.Errorf("Offering(toy) = %+v, %v; want the toy plugin with its sha256", offers, err)
		}
		if got := c.Starts(); got != wantStarts {
			t.Errorf("Describe and Offering started %d plugin processes; want %d", got, wantStarts)
		}
		return d
	}
	first := describe(1)
	if got := describe(0); got.Name != first.Name || len(got.Archs) != 1 || got.Archs[0].Options[1].Name != "delay_ms" {
		t.Errorf("cached Describe = %+v; want %+v", got, first)
	}
	entries, _ := filepath.Glob(filepath.Join(cache, "plugins", "*.json"))
	if len(entries) != 1 {
		t.Fatalf("cache entries %v; want one", entries)
	}
	if st, err := os.Stat(entries[0]); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("cache entry mode %v, %v; want 0600", st.Mode().Perm(), err)
	}
	if st, err := os.Stat(filepath.Join(cache, "plugins")); err != nil || st.Mode().Perm() != 0o700 {
		t.Errorf("cache folder mode %v, %v; want 0700", st.Mode().Perm(), err)
	}
	if err := os.WriteFile(entries[0], []byte(`{"version": 1, "path": `), 0o600); err != nil {
		t.Fatal(err)
	}
	describe(1) // corrupt: ignored
	describe(0) // and rewritten
	copyFile(t, toyBin, bin, []byte{0})
	describe(1) // a changed file is asked again
	describe(0)
}

// TestRelativePathsCross: a relative path option reaches a plugin that
// runs in another folder (a manifest plugin runs in its manifest's) as an
// absolute path against the host's working directory.
func TestRelativePathsCross(t *testing.T) {
	plugins, work := t.TempDir(), t.TempDir()
	man := fmt.Sprintf(`{"command": [%q]}`, toyBin)
	if err := os.WriteFile(filepath.Join(plugins, "gozoo-backbone-toy.plugin"), []byte(man), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "seed.txt"), []byte("5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(work)
	c, err := host.New(host.WithPluginPath(plugins))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	bb := toy(t, c)
	x := &sdk.ExtractRequest{Layers: []string{"head"}, Input: rows(2, 4)}
	head := func(req *sdk.LoadRequest) []float32 {
		t.Helper()
		m, err := bb.Load(context.Background(), req)
		if err != nil {
			t.Fatalf("Load(%+v) = %v", req, err)
		}
		defer m.Close()
		out, err := m.Extract(context.Background(), x)
		if err != nil {
			t.Fatal(err)
		}
		return out.Outputs["head"].Float32
	}
	req := &sdk.LoadRequest{Arch: "toy", Seed: 3, Options: map[string]string{"seed_file": "seed.txt"}}
	got := head(req)
	if req.Options["seed_file"] != "seed.txt" {
		t.Errorf("Load changed the caller's request: %v", req.Options)
	}
	if want := head(&sdk.LoadRequest{Arch: "toy", Seed: 8}); !reflect.DeepEqual(got, want) {
		t.Errorf("head with seed 3 + seed_file (5) = %v; want seed 8's %v", got, want)
	}
}

// TestPluginWatchesParent starts the toy plugin from a shell that exits
// at once, with no parent-death signal from a host: the plugin's own
// guard (sdk/plugin.Serve) ends it and removes its socket and the
// folders made for it.
func TestPluginWatchesParent(t *testing.T) {
	base := filepath.Join(t.TempDir(), backbonev1.SocketDirPrefix+"1-x")
	sockDir := filepath.Join(base, "toy-1")
	if err := os.MkdirAll(sockDir, 0o700); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", "-c", `"$0" >/dev/null 2>&1 & echo $!; sleep 1`, toyBin)
	cmd.Env = append(os.Environ(), backbonev1.Handshake.MagicCookieKey+"="+backbonev1.Handshake.MagicCookieValue,
		"PLUGIN_PROTOCOL_VERSIONS=1", "PLUGIN_UNIX_SOCKET_DIR="+sockDir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(stdout).ReadString('\n')
	pid := atoi(strings.TrimSpace(line))
	if pid <= 0 {
		t.Fatalf("shell printed %q; want the plugin's pid", line)
	}
	defer syscall.Kill(pid, syscall.SIGKILL)
	for deadline := time.Now().Add(900 * time.Millisecond); len(sockets(t, sockDir)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the plugin made no socket while its parent lived")
		}
	}
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	if !gone(pid, 2*time.Second) {
		t.Errorf("plugin %d still runs 2 s after its parent exited", pid)
	}
	if _, err := os.Stat(base); err == nil {
		t.Errorf("socket folders under %s left: %v", base, sockets(t, base))
	}
}

// TestDescribeCachePrunes: entries of plugin files that are gone are
// removed when a new plugin file is recorded.
func TestDescribeCachePrunes(t *testing.T) {
	cache := t.TempDir()
	describeIn := func(dir string) {
		t.Helper()
		copyFile(t, toyBin, filepath.Join(dir, "gozoo-backbone-toy"), nil)
		c, err := host.New(host.WithPluginPath(dir), host.WithCacheDir(cache))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Describe(context.Background(), "toy"); err != nil {
			t.Fatal(err)
		}
	}
	gone := t.TempDir()
	describeIn(gone)
	os.RemoveAll(gone)
	describeIn(t.TempDir())
	if entries, _ := filepath.Glob(filepath.Join(cache, "plugins", "*.json")); len(entries) != 1 {
		t.Errorf("cache entries %v; want only the existing plugin's", entries)
	}
}
