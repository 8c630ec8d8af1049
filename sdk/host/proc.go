package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/sdk"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// proc is one plugin process, restarted when it dies. gen counts starts;
// handles from an older generation are gone.
type proc struct {
	c    *Client
	info PluginInfo // SHA256 is the hash taken when the plugin was found

	mu     ctxMutex // held while a process starts: waiters give up with their context
	gp     *goplugin.Client
	rpc    backbonev1.BackboneClient
	health healthpb.HealthClient
	pid    int    // the process id, 0 when unknown
	sock   string // the process's socket folder
	gen    int
	desc   *sdk.Description
	closed bool
	hung   map[int]time.Duration // generations killed for not answering, and for how long they did not

	filesGen int  // the generation filesOK was probed for (0: none yet)
	filesOK  bool // that generation reads and writes tensor files
}

// pluginConn is what grpcPlugin dispenses: the backbone service and the
// health service on the same connection.
type pluginConn struct {
	bb     backbonev1.BackboneClient
	health healthpb.HealthClient
}

func (g *grpcPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host: the host side serves no plugin")
}

func (g *grpcPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return &pluginConn{bb: backbonev1.NewBackboneClient(cc), health: healthpb.NewHealthClient(cc)}, nil
}

// ErrUnresponsive is wrapped (with sdk.ErrPluginCrashed) by the error of
// a call whose plugin stopped answering health checks and was killed.
var ErrUnresponsive = errors.New("host: plugin stopped answering")

// killGrace is how long a plugin that does not answer a health check may
// take to exit after the host asks it to before it is killed outright (a
// stopped or hung process never answers the request); exitGrace is how
// long one that answers may take (an interpreter may tidy up for a
// while). go-plugin kills a process that has not exited 2 s after the
// request itself.
const (
	killGrace = 500 * time.Millisecond
	exitGrace = 3 * time.Second
)

// conn returns the running process's client and generation, starting the
// process when none runs (or the last one exited or was killed).
func (p *proc) conn(ctx context.Context) (backbonev1.BackboneClient, int, error) {
	if err := p.lockCtx(ctx); err != nil {
		return nil, 0, err
	}
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, fmt.Errorf("%w: plugin %s: the host client is closed", sdk.ErrClosed, p.info.Name)
	}
	if p.gp != nil && !p.gp.Exited() && p.hung[p.gen] == 0 {
		return p.rpc, p.gen, nil
	}
	if err := p.startLocked(ctx); err != nil {
		return nil, 0, err
	}
	return p.rpc, p.gen, nil
}

// lockCtx takes p.mu, or gives up when ctx ends (another caller may be
// starting the process, which takes up to the start timeout).
func (p *proc) lockCtx(ctx context.Context) error {
	if err := p.mu.LockCtx(ctx); err != nil {
		return fmt.Errorf("host: plugin %s: gave up waiting for its process to start: %w", p.info.Name, err)
	}
	return nil
}

// restart replaces the process of generation gen, unless another caller
// already did.
func (p *proc) restart(ctx context.Context, gen int) error {
	if err := p.lockCtx(ctx); err != nil {
		return err
	}
	defer p.mu.Unlock()
	if p.closed {
		return fmt.Errorf("%w: plugin %s: the host client is closed", sdk.ErrClosed, p.info.Name)
	}
	if p.gen != gen && p.gp != nil && !p.gp.Exited() {
		return nil
	}
	p.c.hlog.Warn("restarting plugin", "plugin", p.info.Name, "path", p.info.Path)
	return p.startLocked(ctx)
}

// started is the outcome of one process start.
type started struct {
	conn *pluginConn
	pid  int
	err  error
}

// startLocked starts a new process, after stopping the old one. The file
// is checked against the sha256 taken when the plugin was found, on every
// start. It gives up when ctx ends; the abandoned start is cleaned up in
// the background.
func (p *proc) startLocked(ctx context.Context) error {
	p.stopLocked()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("host: start plugin %s: %w", p.info.Name, err)
	}
	cc, sock, err := p.clientConfig()
	if err != nil {
		return err
	}
	tail := &stderrTail{}
	cc.Stderr = tail
	gp := goplugin.NewClient(cc)
	p.c.starts.Add(1)
	ch := make(chan started, 1)
	go func() { ch <- p.handshake(gp, sock, tail) }()
	select {
	case s := <-ch:
		if s.err != nil {
			return s.err
		}
		p.gp, p.rpc, p.health, p.pid, p.sock = gp, s.conn.bb, s.conn.health, s.pid, sock
		p.gen++
		return nil
	case <-ctx.Done():
		go func() {
			if s := <-ch; s.err == nil {
				stopPlugin(gp, s.pid, s.conn.health, p.c.stopped)
				os.RemoveAll(sock)
			}
		}()
		return fmt.Errorf("host: start plugin %s: %w", p.info.Name, ctx.Err())
	}
}

// startError is a plugin's failure to start: no handshake within the
// bound, a process that exited first, no backbone service, or no health
// answer. Its text ends with what the plugin printed on stderr.
type startError struct {
	msg string
	err error
}

func (e *startError) Error() string { return e.msg }
func (e *startError) Unwrap() error { return e.err }

// handshake waits for gp's handshake (bounded by WithStartTimeout), then
// for a first health check answer within the same bound. On error the
// process is gone and sock removed; the error names the plugin and ends
// with the tail of its stderr.
func (p *proc) handshake(gp *goplugin.Client, sock string, tail *stderrTail) started {
	fail := func(pid int, what string, err error) started {
		// Stopped first: go-plugin has then read all of stderr.
		stopPlugin(gp, pid, nil, p.c.stopped)
		os.RemoveAll(sock)
		msg := fmt.Sprintf("host: plugin %s (%s) %s", p.info.Name, p.info.Path, what)
		return started{err: &startError{msg: tail.explain(msg), err: err}}
	}
	rpcc, err := gp.Client()
	if err != nil {
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			stopPlugin(gp, 0, nil, p.c.stopped)
			os.RemoveAll(sock)
			return started{err: fmt.Errorf("%w: plugin %s at %s changed after it was found (its sha256 was %s): it is refused; reinstall the plugin you trust and run again",
				ErrChecksum, p.info.Name, p.info.Path, p.info.SHA256)}
		}
		return fail(0, p.noHandshake(err), err)
	}
	pid := 0
	if rc := gp.ReattachConfig(); rc != nil {
		pid = rc.Pid
	}
	raw, err := rpcc.Dispense(backbonev1.PluginName)
	if err != nil {
		return fail(pid, fmt.Sprintf("does not serve a backbone: %v", err), err)
	}
	conn := raw.(*pluginConn)
	ctx, cancel := context.WithTimeout(context.Background(), p.c.cfg.startTimeout(p.info.Manifest))
	defer cancel()
	if _, err := conn.health.Check(ctx, &healthpb.HealthCheckRequest{Service: goplugin.GRPCServiceName}); err != nil {
		return fail(pid, fmt.Sprintf("failed its health check: %v", err), err)
	}
	return started{conn: conn, pid: pid}
}

// noHandshake says, in place of go-plugin's generic text, how the
// plugin failed to print its handshake.
func (p *proc) noHandshake(err error) string {
	text := err.Error()
	first, rest, _ := strings.Cut(text, "\n")
	switch {
	case strings.Contains(text, "timeout while waiting for plugin to start"):
		return fmt.Sprintf("printed no handshake within its start timeout of %v", p.c.cfg.startTimeout(p.info.Manifest))
	case strings.Contains(text, "plugin exited before we could connect"),
		strings.Contains(rest, "Failed to read any lines from plugin's stdout"):
		return "exited before printing its handshake on stdout"
	case strings.HasPrefix(first, "Unrecognized remote plugin message: "):
		return fmt.Sprintf("printed %q on stdout where its handshake (1|1|unix|SOCKET|grpc|CERT) belongs: is it a gozoo plugin, built against this gozoo?",
			strings.TrimPrefix(first, "Unrecognized remote plugin message: "))
	}
	return "did not start: " + text
}

// stopLocked stops the current process, if any, and removes its socket
// folder.
func (p *proc) stopLocked() {
	if p.gp == nil {
		return
	}
	stopPlugin(p.gp, p.pid, p.health, p.c.stopped)
	os.RemoveAll(p.sock)
	p.gp, p.rpc, p.health, p.pid, p.sock = nil, nil, nil, 0, ""
}

// stopPlugin asks the plugin to exit (go-plugin's graceful shutdown),
// and kills it when it has not within exitGrace if it still answered a
// health check (health, when not nil), else within killGrace; then waits
// for go-plugin to finish with it. A plugin that exits when asked is not
// killed, so a normal run logs no error for it; one that is killed
// (here, or by go-plugin when it ignores the request) is marked in
// stopped, so that its end is not logged as a crash either.
func stopPlugin(gp *goplugin.Client, pid int, health healthpb.HealthClient, stopped *stoppedPIDs) {
	stopped.mark(pid)
	grace := killGrace
	if health != nil {
		ctx, cancel := context.WithTimeout(context.Background(), killGrace/2)
		_, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: goplugin.GRPCServiceName})
		cancel()
		if err == nil {
			grace = exitGrace
		}
	}
	done := make(chan struct{})
	go func() {
		gp.Kill()
		close(done)
	}()
	select {
	case <-done:
		return
	case <-time.After(grace):
	}
	if pid > 0 && !gp.Exited() {
		if pr, err := os.FindProcess(pid); err == nil {
			pr.Kill()
		}
	}
	<-done
}

// clientConfig builds go-plugin's configuration: the command, the sha256
// check, the private socket folder, automatic mTLS, the parent-death
// signal and raised message limits. It returns the socket folder, which
// the caller removes once the process is gone.
func (p *proc) clientConfig() (*goplugin.ClientConfig, string, error) {
	want := p.info.SHA256
	if pin, pinned := p.c.cfg.checksums[p.info.Name]; pinned && pin != want {
		return nil, "", fmt.Errorf("%w: plugin %s at %s has sha256 %s, but %s is pinned: reinstall the plugin you trust, or pin the new checksum if you trust this file",
			ErrChecksum, p.info.Name, p.info.Path, want, pin)
	}
	sum, err := hex.DecodeString(want)
	if err != nil || len(sum) != sha256.Size {
		return nil, "", fmt.Errorf("host: plugin %s at %s has no sha256 from discovery", p.info.Name, p.info.Path)
	}
	var (
		cmd    *exec.Cmd
		secure *goplugin.SecureConfig
	)
	env := os.Environ()
	if p.info.Manifest {
		data, err := os.ReadFile(p.info.Path)
		if err != nil {
			return nil, "", fmt.Errorf("host: read plugin manifest: %w", err)
		}
		// Hash the bytes actually parsed, not the file again.
		if got := sha256.Sum256(data); hex.EncodeToString(got[:]) != want {
			return nil, "", fmt.Errorf("%w: plugin manifest %s changed after it was found (sha256 %s, was %s): it is refused; check it and run again",
				ErrChecksum, p.info.Path, hex.EncodeToString(got[:]), want)
		}
		m, err := ParseManifest(data)
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", p.info.Path, err)
		}
		dir := filepath.Dir(p.info.Path)
		for _, src := range m.Sources {
			if _, err := resolveSource(dir, src); err != nil {
				return nil, "", fmt.Errorf("host: plugin manifest %s: %w: fix \"sources\"", p.info.Path, err)
			}
		}
		prog := m.Command[0]
		if strings.Contains(prog, "/") && !filepath.IsAbs(prog) {
			prog = filepath.Join(dir, prog)
		}
		cmd = exec.Command(prog, m.Command[1:]...)
		cmd.Dir = dir
		for k, v := range m.Env {
			env = append(env, k+"="+v)
		}
	} else {
		cmd = exec.Command(p.info.Path)
		secure = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
	}
	sock, err := p.c.socks.dir(p.info.Name)
	if err != nil {
		return nil, "", err
	}
	// Last, so that it wins over the host's own environment.
	cmd.Env = append(env, goplugin.EnvUnixSocketDir+"="+sock)
	setParentDeath(cmd)
	return &goplugin.ClientConfig{
		HandshakeConfig:  backbonev1.Handshake,
		Plugins:          goplugin.PluginSet{backbonev1.PluginName: &grpcPlugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true, // env above already holds it, under the manifest's
		SecureConfig:     secure,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         true,
		Logger:           p.c.hlog.Named(p.info.Name),
		StartTimeout:     p.c.cfg.startTimeout(p.info.Manifest),
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(backbonev1.MaxMessageBytes),
				grpc.MaxCallSendMsgSize(backbonev1.MaxMessageBytes),
			),
			grpc.WithInitialWindowSize(backbonev1.WindowBytes),
			grpc.WithInitialConnWindowSize(backbonev1.WindowBytes),
		},
	}, sock, nil
}

// watch checks, while a call on generation gen runs, that the process
// still answers health checks, and kills it when it has not for the
// configured bound. The returned function ends the watch.
func (p *proc) watch(gen int) func() {
	every, bound := p.c.cfg.liveEvery, p.c.cfg.liveBound
	p.mu.Lock()
	hc, live := p.health, p.gen == gen && p.health != nil
	p.mu.Unlock()
	if every <= 0 || !live {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		last := time.Now()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			ctx, cancel := context.WithTimeout(context.Background(), every)
			_, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: goplugin.GRPCServiceName})
			cancel()
			if err == nil {
				last = time.Now()
				continue
			}
			if silent := time.Since(last); silent >= bound {
				select {
				case <-done:
				default:
					p.killHung(gen, silent)
				}
				return
			}
		}
	}()
	return func() { close(done) }
}

// killHung kills generation gen's process, which has not answered health
// checks for silent.
func (p *proc) killHung(gen int, silent time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.gen != gen || p.gp == nil || p.closed {
		return
	}
	if p.hung == nil {
		p.hung = map[int]time.Duration{}
	}
	p.hung[gen] = silent
	p.c.hlog.Error("plugin stopped answering health checks; killing it", "plugin", p.info.Name, "pid", p.pid, "silent", silent)
	if pr, err := os.FindProcess(p.pid); err == nil && p.pid > 0 {
		pr.Kill()
	}
}

// hungFor reports how long generation gen went unanswered before it was
// killed, or 0 when it was not.
func (p *proc) hungFor(gen int) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.hung[gen]
}

func (p *proc) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	p.stopLocked()
}

// crashed reports whether err, from a call on generation gen, means the
// plugin process went away (rather than the call failing or ctx ending).
func (p *proc) crashed(ctx context.Context, err error) bool {
	if err == nil || ctx.Err() != nil {
		return false
	}
	switch status.Code(err) {
	case codes.Unavailable, codes.Canceled:
		return true
	case codes.Internal:
		// A stream cut mid-message reports Internal from the transport.
		return p.exited(200 * time.Millisecond)
	}
	return false
}

// exited waits up to d for the process to be seen gone.
func (p *proc) exited(d time.Duration) bool {
	p.mu.Lock()
	gp := p.gp
	p.mu.Unlock()
	if gp == nil {
		return true
	}
	deadline := time.Now().Add(d)
	for {
		if gp.Exited() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// do runs call against the live process, restarting the process and
// repeating call when the process dies during it, up to the configured
// number of restarts. Errors come back as sdk errors.
func (p *proc) do(ctx context.Context, what string, retry bool, call func(rpc backbonev1.BackboneClient, gen int) error) error {
	for attempt := 0; ; attempt++ {
		rpc, gen, err := p.conn(ctx)
		if err != nil {
			return err
		}
		stop := p.watch(gen)
		err = call(rpc, gen)
		stop()
		if silent := p.hungFor(gen); silent > 0 && err != nil && ctx.Err() == nil {
			// Not repeated: a process that stopped once may stop again,
			// and every attempt would cost the user the bound again.
			return fmt.Errorf("%w: plugin %s (%s) stopped answering during %s: no health check answer for %v, so it was killed; the next call starts it again (%w)",
				sdk.ErrPluginCrashed, p.info.Name, p.info.Path, what, silent.Round(time.Millisecond), ErrUnresponsive)
		}
		if !p.crashed(ctx, err) {
			return backbonev1.FromStatus(err)
		}
		if !retry || attempt >= p.c.cfg.maxRestarts {
			// Start afresh for the next call; this one has failed.
			rerr := p.restart(context.WithoutCancel(ctx), gen)
			cause := fmt.Errorf("%w: plugin %s (%s) died during %s (%v)", sdk.ErrPluginCrashed, p.info.Name, p.info.Path, what, err)
			if retry {
				cause = fmt.Errorf("%w after %d restarts: check the plugin's log", cause, attempt)
			} else {
				cause = fmt.Errorf("%w; %s is not repeated automatically: run it again", cause, what)
			}
			if rerr != nil {
				return errors.Join(cause, rerr)
			}
			return cause
		}
		if err := p.restart(ctx, gen); err != nil {
			return errors.Join(fmt.Errorf("%w: plugin %s died during %s and did not restart", sdk.ErrPluginCrashed, p.info.Name, what), err)
		}
	}
}

// description returns the plugin's cached Describe answer.
func (p *proc) description(ctx context.Context) (*sdk.Description, error) {
	if err := p.lockCtx(ctx); err != nil {
		return nil, err
	}
	d := p.desc
	p.mu.Unlock()
	if d != nil {
		return d, nil
	}
	err := p.do(ctx, "Describe", true, func(rpc backbonev1.BackboneClient, _ int) error {
		resp, err := rpc.Describe(ctx, &backbonev1.DescribeRequest{})
		if err == nil {
			d = backbonev1.DescriptionFromProto(resp)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	p.desc = d
	p.mu.Unlock()
	return d, nil
}
