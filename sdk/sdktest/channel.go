package sdktest

import (
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
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/sdk/host"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// CheckChannel attacks the channel of plugin name, running under c, as
// another program of the same user would, in subtests of t: the plugin
// must listen on no TCP port, only on a Unix socket in a folder that
// belongs to this user with mode 0700, and complete no Describe for a
// client without the host's certificate (no TLS, TLS without a client
// certificate, TLS with a certificate of its own). The host's own
// connection must still work afterwards. It reads Linux's /proc and
// skips elsewhere. Start the plugin first (c.Backbone).
func CheckChannel(t *testing.T, c *host.Client, name string) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skipf("CheckChannel reads Linux's /proc; %s has none", runtime.GOOS)
	}
	pid, err := c.PID(name)
	if err != nil {
		t.Fatalf("CheckChannel: %v: start the plugin first", err)
	}
	inodes := socketInodes(t, pid)
	if l := tcpListeners(inodes); len(l) > 0 {
		t.Errorf("plugin %s (pid %d) listens on TCP: %v; want only its Unix socket", name, pid, l)
	}
	socks := unixListeners(t, inodes)
	if len(socks) == 0 {
		t.Fatalf("plugin %s (pid %d) listens on no Unix socket", name, pid)
	}
	for _, sock := range socks {
		st, err := os.Stat(filepath.Dir(sock))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm()&0o077 != 0 || owner(st) != os.Getuid() {
			t.Errorf("socket folder %s has mode %v, owner %d; want 0700 owned by %d", filepath.Dir(sock), st.Mode().Perm(), owner(st), os.Getuid())
		}
		anyServer := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost"}
		ownCert := &tls.Config{InsecureSkipVerify: true, ServerName: "localhost", Certificates: []tls.Certificate{foreignCert(t)}}
		for _, tc := range []struct {
			name  string
			creds credentials.TransportCredentials
		}{
			{"no TLS", insecure.NewCredentials()},
			{"TLS without a client certificate", credentials.NewTLS(anyServer)},
			{"TLS with another client certificate", credentials.NewTLS(ownCert)},
		} {
			t.Run(tc.name, func(t *testing.T) {
				if err := describeOver(sock, tc.creds); err == nil {
					t.Fatalf("Describe over %s with %s succeeded; want the plugin to refuse it", sock, tc.name)
				} else {
					t.Logf("refused: %v", err)
				}
			})
		}
	}
	bb, err := c.Backbone(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bb.Describe(context.Background()); err != nil {
		t.Errorf("host Describe after the attacks = %v; want it to work", err)
	}
}

// socketInodes returns the inodes of the sockets process pid holds.
func socketInodes(t *testing.T, pid int) map[string]bool {
	t.Helper()
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatalf("CheckChannel: %v", err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	return inodes
}

// tcpListeners returns the listening TCP sockets among inodes.
func tcpListeners(inodes map[string]bool) []string {
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

// unixListeners returns the paths of the listening Unix sockets among
// inodes.
func unixListeners(t *testing.T, inodes map[string]bool) []string {
	t.Helper()
	data, err := os.ReadFile("/proc/net/unix")
	if err != nil {
		t.Skipf("no /proc/net/unix (%v): CheckChannel reads Linux's socket table", err)
	}
	var out []string
	for _, line := range strings.Split(string(data), "\n")[1:] {
		// Num RefCount Protocol Flags Type St Inode Path; flags 00010000
		// is a listening socket.
		f := strings.Fields(line)
		if len(f) == 8 && f[3] == "00010000" && inodes[f[6]] {
			out = append(out, f[7])
		}
	}
	return out
}

// foreignCert makes a client certificate shaped like the host's, but not
// the host's.
func foreignCert(t *testing.T) tls.Certificate {
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

// describeOver tries one Describe on the socket with creds.
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
