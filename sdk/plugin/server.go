package plugin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/grpc"
)

// Register installs impl as the gozoo Backbone gRPC service on s. Only
// WithName and WithSharedMemory among the options apply. The server should
// use ServerOptions' message size limits.
func Register(s grpc.ServiceRegistrar, impl sdk.Backbone, opts ...Option) error {
	cfg := &config{}
	for _, o := range opts {
		if err := o(cfg); err != nil {
			return err
		}
	}
	return register(s, impl, cfg)
}

func register(s grpc.ServiceRegistrar, impl sdk.Backbone, cfg *config) error {
	if impl == nil {
		return errors.New("plugin: Register: nil backbone")
	}
	backbonev1.RegisterBackboneServer(s, &server{impl: impl, name: cfg.name, files: !cfg.noFiles, models: map[string]sdk.Model{}})
	return nil
}

// server adapts an sdk.Backbone to the gRPC service. Models live in a
// handle table until Close.
type server struct {
	backbonev1.UnimplementedBackboneServer
	impl  sdk.Backbone
	files bool // shared-memory tensor files allowed (WithSharedMemory)

	mu     sync.Mutex
	name   string
	models map[string]sdk.Model
	next   uint64
}

var _ backbonev1.BackboneServer = (*server)(nil)

// pluginName returns the name for messages, asking Describe once.
func (s *server) pluginName(ctx context.Context) string {
	s.mu.Lock()
	name := s.name
	s.mu.Unlock()
	if name != "" {
		return name
	}
	d, err := s.impl.Describe(ctx)
	if err != nil || d.Name == "" {
		return "(unnamed)"
	}
	s.mu.Lock()
	s.name = d.Name
	s.mu.Unlock()
	return d.Name
}

func (s *server) model(ctx context.Context, handle string) (sdk.Model, error) {
	s.mu.Lock()
	m := s.models[handle]
	s.mu.Unlock()
	if m == nil {
		return nil, fmt.Errorf("%w: plugin %s has no model with handle %q: it was closed, or the plugin restarted; load the model again",
			sdk.ErrClosed, s.pluginName(ctx), handle)
	}
	return m, nil
}

func (s *server) Describe(ctx context.Context, req *backbonev1.DescribeRequest) (*backbonev1.DescribeResponse, error) {
	d, err := s.impl.Describe(ctx)
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	resp := backbonev1.DescriptionToProto(d)
	// Advertise tensor files only when the host's probe file is readable
	// here: that proves both sides see the same files.
	if s.files && req.GetProbePath() != "" && backbonev1.CheckProbe(req.GetProbePath(), req.GetProbeToken()) {
		resp.Transport = &backbonev1.Transport{SharedFiles: true}
	}
	return resp, nil
}

func (s *server) Load(ctx context.Context, req *backbonev1.LoadRequest) (*backbonev1.LoadResponse, error) {
	r, err := backbonev1.LoadRequestFromProto(req)
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	m, err := s.impl.Load(ctx, r)
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	s.mu.Lock()
	s.next++
	h := strconv.FormatUint(s.next, 10)
	s.models[h] = m
	s.mu.Unlock()
	resp := &backbonev1.LoadResponse{Handle: h}
	if d, ok := m.(sdk.InputDescriber); ok {
		resp.Input = backbonev1.InputSpecToProto(d.Input())
	}
	if d, ok := m.(sdk.OptionsDescriber); ok {
		for _, o := range d.LoadedOptions() {
			resp.Options = append(resp.Options, &backbonev1.LoadedOption{Name: o.Name, Value: o.Value, Source: o.Source})
		}
	}
	return resp, nil
}

func (s *server) Layers(ctx context.Context, req *backbonev1.LayersRequest) (*backbonev1.LayersResponse, error) {
	m, err := s.model(ctx, req.GetHandle())
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	ls, err := m.Layers(ctx, &sdk.LayersRequest{InputShape: req.GetInputShape()})
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	return &backbonev1.LayersResponse{Layers: backbonev1.LayersToProto(ls)}, nil
}

func (s *server) Extract(stream backbonev1.Backbone_ExtractServer) error {
	return backbonev1.ToStatus(s.extract(stream))
}

func (s *server) extract(stream backbonev1.Backbone_ExtractServer) error {
	ctx := stream.Context()
	var (
		first  *backbonev1.ExtractRequest
		in     backbonev1.Assembler
		x      *sdk.Tensor
		extras map[string]*backbonev1.Assembler // further inputs, by chunk name
		order  []string
	)
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if first == nil {
			first = msg
		}
		c := msg.GetInput()
		if c == nil {
			continue
		}
		if name := c.GetName(); name != "" {
			// A further input (protocol minor 1), after the first.
			if extras == nil {
				extras = map[string]*backbonev1.Assembler{}
			}
			a, ok := extras[name]
			if !ok {
				a = &backbonev1.Assembler{}
				extras[name] = a
				order = append(order, name)
			}
			if _, err := a.Add(c); err != nil {
				return fmt.Errorf("extract input %q: %w", name, err)
			}
			continue
		}
		if x != nil {
			return fmt.Errorf("%w: extract input: data after the input tensor was complete", sdk.ErrBadInput)
		}
		if c.GetFile() != nil {
			if !s.files {
				return fmt.Errorf("%w: extract input names a file, but plugin %s was started without shared memory: send the tensor inline",
					sdk.ErrBadInput, s.pluginName(ctx))
			}
			if msg != first {
				return fmt.Errorf("%w: extract input: a file chunk must be the input's only chunk, in the first message", sdk.ErrBadInput)
			}
			if x, err = backbonev1.ReadTensorFile(c); err != nil {
				return fmt.Errorf("extract input: %w", err)
			}
			continue
		}
		done, err := in.Add(c)
		if err != nil {
			return fmt.Errorf("extract input: %w", err)
		}
		if done {
			if x, err = in.Tensor(); err != nil {
				return fmt.Errorf("extract input: %w", err)
			}
		}
	}
	if first == nil {
		return fmt.Errorf("%w: empty extract request", sdk.ErrBadInput)
	}
	m, err := s.model(ctx, first.GetHandle())
	if err != nil {
		return err
	}
	of, err := s.outputFiles(first.GetOutputFiles())
	if err != nil {
		return err
	}
	if x == nil {
		if x, err = in.Tensor(); err != nil {
			return fmt.Errorf("extract input: %w", err)
		}
	}
	req := &sdk.ExtractRequest{Layers: first.GetLayers(), Input: x, Lengths: first.GetLengths()}
	for _, name := range order {
		t, err := extras[name].Tensor()
		if err != nil {
			return fmt.Errorf("extract input %q: %w", name, err)
		}
		if req.Inputs == nil {
			req.Inputs = map[string]*sdk.Tensor{}
		}
		req.Inputs[name] = t
	}
	resp, err := m.Extract(ctx, req)
	if err != nil {
		return err
	}
	return sendOutputs(stream, resp.Outputs, of)
}

// outputFiles checks the host's request for output files; nil means send
// every output inline.
func (s *server) outputFiles(of *backbonev1.OutputFiles) (*backbonev1.OutputFiles, error) {
	if of == nil || !s.files {
		return nil, nil
	}
	p := of.GetPrefix()
	if !filepath.IsAbs(of.GetDir()) || p == "" || p == "." || p == ".." || strings.ContainsAny(p, `/\`) {
		return nil, fmt.Errorf("%w: extract output files: dir %q must be absolute and prefix %q a plain file name prefix",
			sdk.ErrBadInput, of.GetDir(), p)
	}
	return of, nil
}

// sendOutputs streams outputs in name order: each one at least
// of.MinBytes large as a new file in of.Dir (when of is not nil and the
// file can be written), the others in chunks. On error it removes the
// files it wrote; once a reference is sent the host owns its file.
func sendOutputs(stream backbonev1.Backbone_ExtractServer, outputs map[string]*sdk.Tensor, of *backbonev1.OutputFiles) (err error) {
	names := make([]string, 0, len(outputs))
	for name := range outputs {
		names = append(names, name)
	}
	sort.Strings(names)
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	for i, name := range names {
		t := outputs[name]
		if of != nil && t != nil && backbonev1.TensorByteSize(t) >= of.GetMinBytes() {
			path := filepath.Join(of.GetDir(), of.GetPrefix()+strconv.Itoa(i))
			// A file that cannot be written (no space, folder gone) goes
			// inline instead.
			if c, werr := backbonev1.WriteTensorFile(path, name, t); werr == nil {
				written = append(written, path)
				if err := stream.Send(&backbonev1.ExtractResponse{Output: c}); err != nil {
					return err
				}
				continue
			}
		}
		chunks, err := backbonev1.Chunks(name, t, 0)
		if err != nil {
			return fmt.Errorf("extract output: %w", err)
		}
		for _, c := range chunks {
			if err := stream.Send(&backbonev1.ExtractResponse{Output: c}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *server) Params(ctx context.Context, req *backbonev1.ParamsRequest) (*backbonev1.ParamsResponse, error) {
	m, err := s.model(ctx, req.GetHandle())
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	ps, err := m.Params(ctx)
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	return &backbonev1.ParamsResponse{Params: backbonev1.ParamsToProto(ps)}, nil
}

func (s *server) SetTrainable(ctx context.Context, req *backbonev1.SetTrainableRequest) (*backbonev1.SetTrainableResponse, error) {
	m, err := s.model(ctx, req.GetHandle())
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	r, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: req.GetPatterns(), Trainable: req.GetTrainable()})
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	return &backbonev1.SetTrainableResponse{Matched: r.Matched}, nil
}

func (s *server) unsupported(ctx context.Context, capability, iface string) error {
	return fmt.Errorf("%w: %s is not a capability of plugin %s: its models do not implement sdk.%s",
		sdk.ErrUnsupported, capability, s.pluginName(ctx), iface)
}

func (s *server) Train(stream backbonev1.Backbone_TrainServer) error {
	return backbonev1.ToStatus(s.train(stream))
}

func (s *server) train(stream backbonev1.Backbone_TrainServer) error {
	ctx, cancel := context.WithCancel(stream.Context())
	defer cancel()
	msg, err := stream.Recv()
	if err != nil {
		return err
	}
	cfg := msg.GetConfig()
	if cfg == nil {
		return fmt.Errorf("%w: a train stream must start with its config", sdk.ErrBadInput)
	}
	m, err := s.model(ctx, cfg.GetHandle())
	if err != nil {
		return err
	}
	tr, ok := m.(sdk.Trainer)
	if !ok {
		return s.unsupported(ctx, "train", "Trainer")
	}
	req := backbonev1.TrainConfigFromProto(cfg)
	batches := make(chan sdk.TrainBatch)
	req.Batches = batches
	recvErr := make(chan error, 1)
	go func() {
		defer close(batches)
		recvErr <- recvBatches(ctx, stream, batches)
	}()
	err = tr.Train(ctx, req, func(e *sdk.TrainEvent) error {
		return stream.Send(backbonev1.TrainEventToProto(e))
	})
	// The reader may still be blocked in Recv when the trainer stopped
	// early; it ends when this handler returns, so only a receive error
	// that is already in is reported.
	select {
	case rerr := <-recvErr:
		if err == nil && rerr != nil && !errors.Is(rerr, context.Canceled) {
			err = rerr
		}
	default:
	}
	return err
}

// recvBatches reads batches from stream into out until the client closes
// its side or ctx ends.
func recvBatches(ctx context.Context, stream backbonev1.Backbone_TrainServer, out chan<- sdk.TrainBatch) error {
	var (
		cur *backbonev1.TrainBatch
		asm backbonev1.Assembler
	)
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			if cur != nil {
				return fmt.Errorf("%w: train stream ended inside a batch", sdk.ErrBadInput)
			}
			return nil
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return err
		}
		b := msg.GetBatch()
		if b == nil {
			return fmt.Errorf("%w: train stream: expected a batch after the config", sdk.ErrBadInput)
		}
		if cur == nil {
			cur, asm = b, backbonev1.Assembler{}
		}
		done, err := asm.Add(b.GetInput())
		if err != nil {
			return fmt.Errorf("train batch: %w", err)
		}
		if !done {
			continue
		}
		x, err := asm.Tensor()
		if err != nil {
			return err
		}
		batch := sdk.TrainBatch{Input: x, Labels: cur.GetLabels(), Validation: cur.GetValidation(), EndOfEpoch: cur.GetEndOfEpoch()}
		cur = nil
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

func (s *server) Export(ctx context.Context, req *backbonev1.ExportRequest) (*backbonev1.ExportResponse, error) {
	m, err := s.model(ctx, req.GetHandle())
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	ex, ok := m.(sdk.Exporter)
	if !ok {
		return nil, backbonev1.ToStatus(s.unsupported(ctx, "export", "Exporter"))
	}
	r, err := backbonev1.ExportRequestFromProto(req)
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	resp, err := ex.Export(ctx, r)
	if err != nil {
		return nil, backbonev1.ToStatus(err)
	}
	return &backbonev1.ExportResponse{Path: resp.Path, Bytes: resp.Bytes}, nil
}

func (s *server) Close(_ context.Context, req *backbonev1.CloseRequest) (*backbonev1.CloseResponse, error) {
	s.mu.Lock()
	m := s.models[req.GetHandle()]
	delete(s.models, req.GetHandle())
	s.mu.Unlock()
	if m != nil {
		if err := m.Close(); err != nil {
			return nil, backbonev1.ToStatus(err)
		}
	}
	return &backbonev1.CloseResponse{}, nil
}
