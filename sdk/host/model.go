package host

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"sync/atomic"
	"time"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// backbone is the host's view of one plugin.
type backbone struct{ p *proc }

var _ sdk.Backbone = (*backbone)(nil)

func (b *backbone) Describe(ctx context.Context) (*sdk.Description, error) {
	var d *sdk.Description
	err := b.p.do(ctx, "Describe", true, func(rpc backbonev1.BackboneClient, _ int) error {
		resp, err := rpc.Describe(ctx, &backbonev1.DescribeRequest{})
		if err == nil {
			d = backbonev1.DescriptionFromProto(resp)
		}
		return err
	})
	return d, err
}

func (b *backbone) Load(ctx context.Context, req *sdk.LoadRequest) (sdk.Model, error) {
	if req == nil {
		return nil, fmt.Errorf("%w: nil LoadRequest", sdk.ErrBadInput)
	}
	d, err := b.p.description(ctx)
	if err != nil {
		return nil, err
	}
	if req, err = absLoad(req, findArch(d, req.Arch)); err != nil {
		return nil, err
	}
	req, release, err := b.p.c.weights.prepare(req, b.p.info.Name, d.Capabilities)
	if err != nil {
		return nil, err
	}
	pr, err := backbonev1.LoadRequestToProto(req)
	if err != nil {
		return nil, errors.Join(err, release())
	}
	m := &model{p: b.p, load: pr, release: release}
	err = b.p.do(ctx, "Load", true, func(rpc backbonev1.BackboneClient, gen int) error {
		_, err := m.handleFor(ctx, rpc, gen)
		return err
	})
	if err != nil {
		return nil, errors.Join(err, release())
	}
	switch caps := d.Capabilities; {
	case caps.Train && caps.Export:
		return &trainExportModel{m}, nil
	case caps.Train:
		return &trainModel{m}, nil
	case caps.Export:
		return &exportModel{m}, nil
	}
	return m, nil
}

// model is a model loaded in a plugin process. It remembers how it was
// made (the LoadRequest and every SetTrainable) so that it can be made
// again in a restarted process.
type model struct {
	p    *proc
	load *backbonev1.LoadRequest

	mu        ctxMutex // held while the model loads: waiters give up with their context
	handle    string
	gen       int // the process generation handle belongs to
	trainable []*backbonev1.SetTrainableRequest
	closed    bool
	release   func() error // removes weights the host converted for this model

	// input is the model's input as the plugin reported it at the latest
	// load; atomic so that Input never waits for a load.
	input atomic.Pointer[sdk.InputSpec]
	// options are the model's options as the plugin reported them at Load.
	options atomic.Pointer[[]sdk.LoadedOption]
}

var (
	_ sdk.Model          = (*model)(nil)
	_ sdk.InputDescriber = (*model)(nil)
)

type trainModel struct{ *model }
type exportModel struct{ *model }
type trainExportModel struct{ *model }

var (
	_ sdk.Trainer  = trainModel{}
	_ sdk.Exporter = exportModel{}
	_ sdk.Trainer  = trainExportModel{}
	_ sdk.Exporter = trainExportModel{}
)

// Train runs a training run in the plugin (see sdk.Trainer).
func (m trainModel) Train(ctx context.Context, req *sdk.TrainRequest, events func(*sdk.TrainEvent) error) error {
	return m.train(ctx, req, events)
}

// Export writes the model to a file (see sdk.Exporter).
func (m exportModel) Export(ctx context.Context, req *sdk.ExportRequest) (*sdk.ExportResponse, error) {
	return m.export(ctx, req)
}

// Train runs a training run in the plugin (see sdk.Trainer).
func (m trainExportModel) Train(ctx context.Context, req *sdk.TrainRequest, events func(*sdk.TrainEvent) error) error {
	return m.train(ctx, req, events)
}

// Export writes the model to a file (see sdk.Exporter).
func (m trainExportModel) Export(ctx context.Context, req *sdk.ExportRequest) (*sdk.ExportResponse, error) {
	return m.export(ctx, req)
}

// handleFor returns the model's handle in process generation gen, loading
// the model there (and replaying its SetTrainable history) when the handle
// belongs to an older process.
func (m *model) handleFor(ctx context.Context, rpc backbonev1.BackboneClient, gen int) (string, error) {
	if err := m.mu.LockCtx(ctx); err != nil {
		return "", fmt.Errorf("host: model %s of plugin %s: gave up waiting for it to load: %w", m.load.GetArch(), m.p.info.Name, err)
	}
	defer m.mu.Unlock()
	if m.closed {
		return "", fmt.Errorf("%w: model %s of plugin %s", sdk.ErrClosed, m.load.GetArch(), m.p.info.Name)
	}
	if m.handle != "" && m.gen == gen {
		return m.handle, nil
	}
	resp, err := rpc.Load(ctx, m.load)
	if err != nil {
		return "", err
	}
	for _, st := range m.trainable {
		st.Handle = resp.GetHandle()
		if _, err := rpc.SetTrainable(ctx, st); err != nil {
			return "", err
		}
	}
	m.handle, m.gen = resp.GetHandle(), gen
	in := backbonev1.InputSpecFromProto(resp.GetInput())
	m.input.Store(&in)
	opts := make([]sdk.LoadedOption, 0, len(resp.GetOptions()))
	for _, o := range resp.GetOptions() {
		opts = append(opts, sdk.LoadedOption{Name: o.GetName(), Value: o.GetValue(), Source: o.GetSource()})
	}
	m.options.Store(&opts)
	return m.handle, nil
}

// Input returns the input the model takes as the plugin reported it when
// it loaded the model (see sdk.InputDescriber): the zero InputSpec when the
// plugin did not report one (protocol minor < 2, or a model that does not
// describe its input).
func (m *model) Input() sdk.InputSpec {
	in := m.input.Load()
	if in == nil {
		return sdk.InputSpec{}
	}
	return sdk.InputSpec{Shape: slices.Clone(in.Shape), DType: in.DType, BatchAxis: in.BatchAxis}
}

// LoadedOptions returns the model's options as the plugin reported them
// when it loaded the model (see sdk.OptionsDescriber); none when it did
// not report them.
func (m *model) LoadedOptions() []sdk.LoadedOption {
	if o := m.options.Load(); o != nil {
		return slices.Clone(*o)
	}
	return nil
}

// call runs fn with a live handle, recovering from plugin crashes when
// retry is set.
func (m *model) call(ctx context.Context, what string, retry bool, fn func(rpc backbonev1.BackboneClient, handle string) error) error {
	return m.p.do(ctx, what, retry, func(rpc backbonev1.BackboneClient, gen int) error {
		h, err := m.handleFor(ctx, rpc, gen)
		if err != nil {
			return err
		}
		return fn(rpc, h)
	})
}

func (m *model) Layers(ctx context.Context, req *sdk.LayersRequest) ([]sdk.Layer, error) {
	var shape []int64
	if req != nil {
		shape = req.InputShape
	}
	var out []sdk.Layer
	err := m.call(ctx, "Layers", true, func(rpc backbonev1.BackboneClient, h string) error {
		resp, err := rpc.Layers(ctx, &backbonev1.LayersRequest{Handle: h, InputShape: shape})
		if err == nil {
			out = backbonev1.LayersFromProto(resp.GetLayers())
		}
		return err
	})
	return out, err
}

func (m *model) Extract(ctx context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	if req == nil || req.Input == nil {
		return nil, fmt.Errorf("%w: extract needs an input tensor", sdk.ErrBadInput)
	}
	if err := req.Input.Validate(); err != nil {
		return nil, fmt.Errorf("extract input: %w", err)
	}
	if len(req.Inputs) > 0 {
		for name, t := range req.Inputs {
			if name == "" || t == nil {
				return nil, fmt.Errorf("%w: extract: every further input needs a name and a tensor", sdk.ErrBadInput)
			}
			if err := t.Validate(); err != nil {
				return nil, fmt.Errorf("extract input %q: %w", name, err)
			}
		}
		d, err := m.p.description(ctx)
		if err != nil {
			return nil, err
		}
		if d.ProtocolMinor < 1 {
			return nil, fmt.Errorf("%w: plugin %s speaks protocol minor %d, which takes one input; %d further inputs need minor 1: update the plugin",
				sdk.ErrUnsupported, m.p.info.Name, d.ProtocolMinor, len(req.Inputs))
		}
	}
	x := &extractCall{files: &m.p.c.files, req: req}
	defer x.close()
	var out *sdk.ExtractResponse
	err := m.p.do(ctx, "Extract", true, func(rpc backbonev1.BackboneClient, gen int) error {
		h, err := m.handleFor(ctx, rpc, gen)
		if err != nil {
			return err
		}
		dir, shared, err := m.p.sharedFiles(ctx, rpc, gen)
		if err != nil {
			return err
		}
		if !shared {
			dir = ""
		}
		out, err = x.run(ctx, rpc, h, dir)
		return err
	})
	return out, err
}

// extractCall is one Extract, across the attempts a plugin crash causes.
// The input goes either inline, as chunks, or (when the plugin shares the
// host's tensor folder) as one file written once and removed when the call
// is over, so that a repeated attempt reads the same file.
type extractCall struct {
	files  *files
	req    *sdk.ExtractRequest
	chunks []*backbonev1.TensorChunk // inline input, made on first need
	inFile *backbonev1.TensorChunk   // input file reference, once written
	file   *os.File                  // the input file, open
	noFile bool                      // writing the input file failed: stream
}

// input returns the input chunks for an attempt; dir is the tensor folder
// when the plugin reads files, or "".
func (x *extractCall) input(dir string) ([]*backbonev1.TensorChunk, error) {
	// Further inputs travel inline, after the first input's chunks.
	if dir != "" && len(x.req.Inputs) == 0 && !x.noFile && x.inFile == nil && backbonev1.TensorByteSize(x.req.Input) >= backbonev1.FileMinBytes {
		file, c, err := x.files.writeInput(dir, x.req.Input)
		if err != nil {
			x.noFile = true // no space, or the folder went: stream instead
		} else {
			x.file, x.inFile = file, c
			x.files.in.Add(1)
		}
	}
	if dir != "" && x.inFile != nil {
		return []*backbonev1.TensorChunk{x.inFile}, nil
	}
	if x.chunks == nil {
		var err error
		if x.chunks, err = backbonev1.Chunks("", x.req.Input, 0); err != nil {
			return nil, fmt.Errorf("extract input: %w", err)
		}
		for _, name := range slices.Sorted(maps.Keys(x.req.Inputs)) {
			cs, err := backbonev1.Chunks(name, x.req.Inputs[name], 0)
			if err != nil {
				return nil, fmt.Errorf("extract input %q: %w", name, err)
			}
			x.chunks = append(x.chunks, cs...)
		}
	}
	return x.chunks, nil
}

// close gives the input file back for reuse (or removes it) once the
// call, with every repeated attempt, is over.
func (x *extractCall) close() {
	if x.file != nil {
		x.files.putInput(x.file, x.inFile.GetFile().GetSize())
	}
}

// run is one attempt: one Extract stream. The input goes up; the outputs
// come back inline or, when dir is set, large ones as files that run reads
// and removes.
func (x *extractCall) run(ctx context.Context, rpc backbonev1.BackboneClient, h, dir string) (*sdk.ExtractResponse, error) {
	chunks, err := x.input(dir)
	if err != nil {
		return nil, err
	}
	var of *backbonev1.OutputFiles
	if dir != "" {
		of = &backbonev1.OutputFiles{Dir: dir, Prefix: x.files.name("out") + "-", MinBytes: backbonev1.FileMinBytes}
		// Whatever this attempt leaves (it failed, or the plugin died
		// while writing) goes with it.
		defer sweep(dir, of.Prefix)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := rpc.Extract(ctx)
	if err != nil {
		return nil, err
	}
	for i, c := range chunks {
		msg := &backbonev1.ExtractRequest{Input: c}
		if i == 0 {
			msg.Handle, msg.Layers, msg.Lengths, msg.OutputFiles = h, x.req.Layers, x.req.Lengths, of
		}
		if err := stream.Send(msg); err != nil {
			if err == io.EOF {
				break // the server ended the call; Recv reports why
			}
			return nil, err
		}
	}
	if err := stream.CloseSend(); err != nil {
		return nil, err
	}
	var outs backbonev1.Outputs
	for {
		resp, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		c := resp.GetOutput()
		if c.GetFile() == nil {
			if err := outs.Add(c); err != nil {
				return nil, err
			}
			continue
		}
		t, err := x.output(c, of)
		if err != nil {
			return nil, err
		}
		if err := outs.Set(c.GetName(), t); err != nil {
			return nil, err
		}
	}
	ts, err := outs.Tensors()
	if err != nil {
		return nil, err
	}
	return &sdk.ExtractResponse{Outputs: ts}, nil
}

// output reads and removes an output the plugin wrote as a file. Only
// files this attempt asked for are read.
func (x *extractCall) output(c *backbonev1.TensorChunk, of *backbonev1.OutputFiles) (*sdk.Tensor, error) {
	path := c.GetFile().GetPath()
	if of == nil || !inside(path, of.GetDir(), of.GetPrefix()) {
		return nil, fmt.Errorf("%w: output %q: the plugin answered with file %q, which is not one of the host's tensor files",
			sdk.ErrBadInput, c.GetName(), path)
	}
	t, err := backbonev1.ReadTensorFile(c)
	os.Remove(path)
	if err != nil {
		return nil, fmt.Errorf("output %q: %w", c.GetName(), err)
	}
	x.files.out.Add(1)
	return t, nil
}

func (m *model) Params(ctx context.Context) ([]sdk.Param, error) {
	var out []sdk.Param
	err := m.call(ctx, "Params", true, func(rpc backbonev1.BackboneClient, h string) error {
		resp, err := rpc.Params(ctx, &backbonev1.ParamsRequest{Handle: h})
		if err == nil {
			out = backbonev1.ParamsFromProto(resp.GetParams())
		}
		return err
	})
	return out, err
}

func (m *model) SetTrainable(ctx context.Context, req *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	if req == nil {
		return nil, fmt.Errorf("%w: nil SetTrainableRequest", sdk.ErrBadInput)
	}
	var out *sdk.SetTrainableResponse
	err := m.call(ctx, "SetTrainable", true, func(rpc backbonev1.BackboneClient, h string) error {
		resp, err := rpc.SetTrainable(ctx, &backbonev1.SetTrainableRequest{Handle: h, Patterns: req.Patterns, Trainable: req.Trainable})
		if err != nil {
			return err
		}
		out = &sdk.SetTrainableResponse{Matched: resp.GetMatched()}
		m.mu.Lock()
		m.trainable = append(m.trainable, &backbonev1.SetTrainableRequest{Patterns: append([]string(nil), req.Patterns...), Trainable: req.Trainable})
		m.mu.Unlock()
		return nil
	})
	return out, err
}

func (m *model) export(ctx context.Context, req *sdk.ExportRequest) (*sdk.ExportResponse, error) {
	if req == nil {
		return nil, fmt.Errorf("%w: nil ExportRequest", sdk.ErrBadInput)
	}
	req, err := absExport(req)
	if err != nil {
		return nil, err
	}
	var out *sdk.ExportResponse
	err = m.call(ctx, "Export", false, func(rpc backbonev1.BackboneClient, h string) error {
		pr, err := backbonev1.ExportRequestToProto(h, req)
		if err != nil {
			return err
		}
		resp, err := rpc.Export(ctx, pr)
		if err == nil {
			out = &sdk.ExportResponse{Path: resp.GetPath(), Bytes: resp.GetBytes()}
		}
		return err
	})
	return out, err
}

func (m *model) train(ctx context.Context, req *sdk.TrainRequest, events func(*sdk.TrainEvent) error) error {
	if req == nil {
		return fmt.Errorf("%w: nil TrainRequest", sdk.ErrBadInput)
	}
	req, err := absTrain(req)
	if err != nil {
		return err
	}
	return m.call(ctx, "Train", false, func(rpc backbonev1.BackboneClient, h string) error {
		return train(ctx, rpc, h, req, events)
	})
}

func train(ctx context.Context, rpc backbonev1.BackboneClient, h string, req *sdk.TrainRequest, events func(*sdk.TrainEvent) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := rpc.Train(ctx)
	if err != nil {
		return err
	}
	if err := stream.Send(&backbonev1.TrainRequest{Msg: &backbonev1.TrainRequest_Config{Config: backbonev1.TrainConfigToProto(h, req)}}); err != nil && err != io.EOF {
		return err
	}
	sendErr := make(chan error, 1)
	go func() { sendErr <- sendBatches(ctx, stream, req.Batches) }()
	for {
		e, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		if err := events(backbonev1.TrainEventFromProto(e)); err != nil {
			return err
		}
	}
	select {
	case err := <-sendErr:
		if err != nil && !errors.Is(err, io.EOF) && ctx.Err() == nil {
			return err
		}
	default:
	}
	return nil
}

// sendBatches streams req's batches, chunked, then closes the send side.
func sendBatches(ctx context.Context, stream backbonev1.Backbone_TrainClient, batches <-chan sdk.TrainBatch) error {
	for {
		var b sdk.TrainBatch
		var ok bool
		select {
		case b, ok = <-batches:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			return stream.CloseSend()
		}
		chunks, err := backbonev1.Chunks("", b.Input, 0)
		if err != nil {
			return fmt.Errorf("train batch: %w", err)
		}
		for i, c := range chunks {
			tb := &backbonev1.TrainBatch{Input: c}
			if i == 0 {
				tb.Labels, tb.Validation, tb.EndOfEpoch = b.Labels, b.Validation, b.EndOfEpoch
			}
			if err := stream.Send(&backbonev1.TrainRequest{Msg: &backbonev1.TrainRequest_Batch{Batch: tb}}); err != nil {
				return err
			}
		}
	}
}

// closeTimeout bounds a model's Close call.
const closeTimeout = 5 * time.Second

// Close releases the model in the plugin. It is idempotent; a model whose
// plugin has exited closes without error.
func (m *model) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	h, gen := m.handle, m.gen
	m.mu.Unlock()
	err := m.closeHandle(h, gen)
	if m.release != nil {
		err = errors.Join(err, m.release())
	}
	return err
}

// closeHandle closes handle h of process generation gen in the plugin.
func (m *model) closeHandle(h string, gen int) error {
	if h == "" {
		return nil
	}
	// Bounded: a plugin that stopped answering, or one being restarted,
	// must not hold Close.
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if m.p.mu.LockCtx(ctx) != nil {
		return nil // a restart is under way: the handle's process is gone
	}
	rpc, live := m.p.rpc, m.p.gen == gen && m.p.gp != nil && !m.p.gp.Exited() && !m.p.closed
	m.p.mu.Unlock()
	if !live {
		return nil
	}
	_, err := rpc.Close(ctx, &backbonev1.CloseRequest{Handle: h})
	if err != nil && status.Code(err) != codes.DeadlineExceeded && !m.p.crashed(ctx, err) {
		return fmt.Errorf("close model %s of plugin %s: %w", m.load.GetArch(), m.p.info.Name, backbonev1.FromStatus(err))
	}
	return nil
}
