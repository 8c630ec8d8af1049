package torch_test

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/host"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// pluginSocket returns the Unix socket the torch plugin of process pid
// listens on, read from /proc/net/unix.
func pluginSocket(t *testing.T, pid int) string {
	t.Helper()
	f, err := os.Open("/proc/net/unix")
	if err != nil {
		t.Skipf("no /proc/net/unix (%v): the channel test reads Linux's socket table", err)
	}
	defer f.Close()
	want := fmt.Sprintf("/torch-%d-", pid)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if p := fields[len(fields)-1]; strings.Contains(p, want) && strings.HasSuffix(p, ".sock") {
			return p
		}
	}
	t.Fatalf("plugin process %d listens on no Unix socket named *%s*.sock", pid, want)
	return ""
}

// tcpListeners returns the TCP sockets process pid listens on.
func tcpListeners(t *testing.T, pid int) []string {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	var out []string
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(table)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			// sl local rem st ... uid timeout inode; st 0A is LISTEN.
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] {
				out = append(out, table+" "+f[1])
			}
		}
	}
	return out
}

// selfSignedCert makes a client certificate shaped like the host's, but
// not the host's.
func selfSignedCert(t *testing.T) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(7),
		Subject:               pkix.Name{CommonName: "localhost"},
		DNSNames:              []string{"localhost"},
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth, x509.ExtKeyUsageServerAuth},
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		NotBefore:             time.Now().Add(-time.Minute),
		NotAfter:              time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// describeOver tries one Describe RPC on the socket with creds.
func describeOver(sock string, creds credentials.TransportCredentials) error {
	cc, err := grpc.NewClient("unix://"+sock, grpc.WithTransportCredentials(creds))
	if err != nil {
		return err
	}
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err = backbonev1.NewBackboneClient(cc).Describe(ctx, &backbonev1.DescribeRequest{})
	return err
}

// nobodyClient is run by Python as uid 65534: it tries to reach the
// socket, then to make a Describe RPC without TLS and with TLS that
// trusts any server, and prints what happened to each.
const nobodyClient = `
import socket, sys, grpc
path = sys.argv[1]
s = socket.socket(socket.AF_UNIX)
try:
    s.connect(path)
    print("connect: ok")
except OSError as e:
    print("connect: %s" % type(e).__name__)
for name, ch in [("plain", grpc.insecure_channel("unix:" + path)),
                 ("tls", grpc.secure_channel("unix:" + path, grpc.ssl_channel_credentials()))]:
    call = ch.unary_unary("/gozoo.backbone.v1.Backbone/Describe", request_serializer=lambda b: b, response_deserializer=lambda b: b)
    try:
        call(b"", timeout=5)
        print("rpc %s: ok" % name)
    except grpc.RpcError as e:
        print("rpc %s: %s" % (name, e.code().name))
`

// TestChannelRefusesOthers starts the torch plugin as gozoo does and
// attacks its channel: the plugin listens on no TCP port, only on a Unix
// socket in a folder no one else can enter; a client of the same user
// without the host's certificate (no TLS, TLS without a client
// certificate, TLS with a certificate of its own) completes no RPC, and a
// client running as another user cannot even connect. The host's own
// client still works afterwards.
func TestChannelRefusesOthers(t *testing.T) {
	bb, c := start(t)
	ctx := context.Background()
	if _, err := bb.Describe(ctx); err != nil {
		t.Fatalf("host Describe: %v", err)
	}
	pid, err := c.PID("torch")
	if err != nil {
		t.Fatal(err)
	}
	if l := tcpListeners(t, pid); len(l) > 0 {
		t.Errorf("the torch plugin listens on TCP: %v; want only its Unix socket", l)
	}
	sock := pluginSocket(t, pid)
	st, err := os.Stat(filepath.Dir(sock))
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o077 != 0 || st.Sys().(*syscall.Stat_t).Uid != uint32(os.Getuid()) {
		t.Errorf("socket folder %s has mode %v, owner %d; want 0700 owned by %d", filepath.Dir(sock), st.Mode().Perm(), st.Sys().(*syscall.Stat_t).Uid, os.Getuid())
	}

	anyServer := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}
	withOwnCert := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", Certificates: []tls.Certificate{selfSignedCert(t)}}
	for _, tc := range []struct {
		name  string
		creds credentials.TransportCredentials
	}{
		{"no TLS", insecure.NewCredentials()},
		{"TLS without a client certificate", credentials.NewTLS(anyServer)},
		{"TLS with another client certificate", credentials.NewTLS(withOwnCert)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := describeOver(sock, tc.creds); err == nil {
				t.Fatalf("Describe over %s with %s succeeded; want the plugin to refuse it", sock, tc.name)
			} else {
				t.Logf("refused: %v", err)
			}
		})
	}

	t.Run("another user", func(t *testing.T) {
		if os.Getuid() != 0 {
			t.Skip("switching to uid 65534 needs root (setpriv): run the tests as root, as CI does")
		}
		setpriv, err := exec.LookPath("setpriv")
		if err != nil {
			testenv.Missing(t, "setpriv", "apt-get install util-linux")
		}
		py := testenv.Python(t)
		out, err := exec.Command(setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", py, "-c", nobodyClient, sock).CombinedOutput()
		if err != nil {
			t.Fatalf("client as uid 65534: %v\n%s", err, out)
		}
		got := string(out)
		t.Logf("as uid 65534:\n%s", got)
		if !strings.Contains(got, "connect: PermissionError") {
			t.Errorf("uid 65534 connecting to %s: %q; want PermissionError", sock, got)
		}
		if strings.Contains(got, ": ok") {
			t.Errorf("uid 65534 reached the plugin: %q", got)
		}
	})

	if _, err := bb.Describe(ctx); err != nil {
		t.Fatalf("host Describe after the attacks: %v", err)
	}
}

// TestPluginDiesWithHost runs a host in a child process, SIGKILLs it
// once the torch plugin runs, and checks that the plugin exits and its
// socket is gone within 3 s.
func TestPluginDiesWithHost(t *testing.T) {
	dir := pluginDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "GOZOO_TORCH_HOST_HELPER="+dir)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
	}()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("host helper printed no plugin pid: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "plugin pid ")))
	if err != nil {
		t.Fatalf("host helper said %q", line)
	}
	sock := pluginSocket(t, pid)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	deadline := time.Now().Add(3 * time.Second)
	for {
		_, statErr := os.Stat(sock)
		alive := syscall.Kill(pid, 0) == nil && !zombie(pid)
		if !alive && os.IsNotExist(statErr) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("3 s after its host was killed: plugin %d alive=%v, socket %s stat=%v; want both gone", pid, alive, sock, statErr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// zombie reports whether pid has exited but not been reaped.
func zombie(pid int) bool {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] == 'Z'
}

// hostHelper is TestPluginDiesWithHost's host, run by TestMain in a child
// process: it starts the torch plugin from the manifest folder dir,
// prints the plugin's pid and waits to be killed.
func hostHelper(dir string) int {
	c, err := host.New(host.WithPluginPath(dir))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if _, err := c.Backbone(context.Background(), "torch"); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	pid, err := c.PID("torch")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("plugin pid %d\n", pid)
	time.Sleep(time.Minute)
	return 0
}
