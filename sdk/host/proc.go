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
	"sync"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/sdk"
	goplugin "github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// proc is one plugin process, restarted when it dies. gen counts starts;
// handles from an older generation are gone.
type proc struct {
	c    *Client
	info PluginInfo

	mu     sync.Mutex
	gp     *goplugin.Client
	rpc    backbonev1.BackboneClient
	gen    int
	desc   *sdk.Description
	closed bool

	filesGen int  // the generation filesOK was probed for (0: none yet)
	filesOK  bool // that generation reads and writes tensor files
}

func (g *grpcPlugin) GRPCServer(*goplugin.GRPCBroker, *grpc.Server) error {
	return errors.New("host: the host side serves no plugin")
}

func (g *grpcPlugin) GRPCClient(_ context.Context, _ *goplugin.GRPCBroker, cc *grpc.ClientConn) (any, error) {
	return backbonev1.NewBackboneClient(cc), nil
}

// conn returns the running process's client and generation, starting the
// process when none runs (or the last one exited).
func (p *proc) conn(ctx context.Context) (backbonev1.BackboneClient, int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, 0, fmt.Errorf("%w: plugin %s: the host client is closed", sdk.ErrClosed, p.info.Name)
	}
	if p.gp != nil && !p.gp.Exited() {
		return p.rpc, p.gen, nil
	}
	if err := p.startLocked(ctx); err != nil {
		return nil, 0, err
	}
	return p.rpc, p.gen, nil
}

// restart replaces the process of generation gen, unless another caller
// already did.
func (p *proc) restart(ctx context.Context, gen int) error {
	p.mu.Lock()
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

func (p *proc) startLocked(ctx context.Context) error {
	if p.gp != nil {
		p.gp.Kill()
		p.gp, p.rpc = nil, nil
	}
	cc, err := p.clientConfig()
	if err != nil {
		return err
	}
	gp := goplugin.NewClient(cc)
	rpcc, err := gp.Client()
	if err != nil {
		gp.Kill()
		if errors.Is(err, goplugin.ErrChecksumsDoNotMatch) {
			return fmt.Errorf("%w: plugin %s at %s changed while it was started: reinstall it or update the pinned checksum",
				ErrChecksum, p.info.Name, p.info.Path)
		}
		return fmt.Errorf("host: start plugin %s (%s): %w", p.info.Name, p.info.Path, err)
	}
	if err := rpcc.Ping(); err != nil {
		gp.Kill()
		return fmt.Errorf("host: plugin %s (%s) failed its health check: %w", p.info.Name, p.info.Path, err)
	}
	raw, err := rpcc.Dispense(backbonev1.PluginName)
	if err != nil {
		gp.Kill()
		return fmt.Errorf("host: plugin %s (%s) does not serve a backbone: %w", p.info.Name, p.info.Path, err)
	}
	p.gp, p.rpc = gp, raw.(backbonev1.BackboneClient)
	p.gen++
	return ctx.Err()
}

// clientConfig builds go-plugin's configuration: the command, the pinned
// checksum, automatic mTLS and raised message limits.
func (p *proc) clientConfig() (*goplugin.ClientConfig, error) {
	var (
		cmd      *exec.Cmd
		secure   *goplugin.SecureConfig
		autoMTLS = true
	)
	want, pinned := p.c.cfg.checksums[p.info.Name]
	if pinned {
		got, err := fileSHA256(p.info.Path)
		if err != nil {
			return nil, fmt.Errorf("host: hash plugin %s: %w", p.info.Path, err)
		}
		if got != want {
			return nil, fmt.Errorf("%w: plugin %s at %s has sha256 %s, but %s is pinned: reinstall the plugin you trust, or pin the new checksum if you trust this file",
				ErrChecksum, p.info.Name, p.info.Path, got, want)
		}
	}
	env := os.Environ()
	if p.info.Manifest {
		data, err := os.ReadFile(p.info.Path)
		if err != nil {
			return nil, fmt.Errorf("host: read plugin manifest: %w", err)
		}
		if pinned {
			// Hash the bytes actually parsed, not the file again.
			if sum := sha256.Sum256(data); hex.EncodeToString(sum[:]) != want {
				return nil, fmt.Errorf("%w: plugin manifest %s changed while it was read: check it and start again", ErrChecksum, p.info.Path)
			}
		}
		m, err := ParseManifest(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.info.Path, err)
		}
		dir := filepath.Dir(p.info.Path)
		prog := m.Command[0]
		if strings.Contains(prog, "/") && !filepath.IsAbs(prog) {
			prog = filepath.Join(dir, prog)
		}
		cmd = exec.Command(prog, m.Command[1:]...)
		cmd.Dir = dir
		for k, v := range m.Env {
			env = append(env, k+"="+v)
		}
		if m.AutoMTLS != nil {
			autoMTLS = *m.AutoMTLS
		}
	} else {
		cmd = exec.Command(p.info.Path)
		if pinned {
			sum, _ := hex.DecodeString(want)
			secure = &goplugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
		}
	}
	cmd.Env = env
	return &goplugin.ClientConfig{
		HandshakeConfig:  backbonev1.Handshake,
		Plugins:          goplugin.PluginSet{backbonev1.PluginName: &grpcPlugin{}},
		Cmd:              cmd,
		SkipHostEnv:      true, // env above already holds it, under the manifest's
		SecureConfig:     secure,
		AllowedProtocols: []goplugin.Protocol{goplugin.ProtocolGRPC},
		AutoMTLS:         autoMTLS,
		Logger:           p.c.hlog.Named(p.info.Name),
		StartTimeout:     p.c.cfg.startWait,
		GRPCDialOptions: []grpc.DialOption{
			grpc.WithDefaultCallOptions(
				grpc.MaxCallRecvMsgSize(backbonev1.MaxMessageBytes),
				grpc.MaxCallSendMsgSize(backbonev1.MaxMessageBytes),
			),
			grpc.WithInitialWindowSize(backbonev1.WindowBytes),
			grpc.WithInitialConnWindowSize(backbonev1.WindowBytes),
		},
	}, nil
}

func (p *proc) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	if p.gp != nil {
		p.gp.Kill()
		p.gp, p.rpc = nil, nil
	}
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
		err = call(rpc, gen)
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
	p.mu.Lock()
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
