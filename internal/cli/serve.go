package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/config"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/serve"
	"github.com/gozoo/gozoo/zoo"
	"github.com/gozoo/gozoo/zoo/imageproc"
	"github.com/spf13/cobra"
	"google.golang.org/grpc"
)

// ServeOptions configures gozoo serve.
type ServeOptions struct {
	f *Factory
	// Models are catalog models (--model, repeated).
	Models []string
	// Model is one arch model (--arch, --weights, ...), served as Name.
	Model modelFlags
	Name  string
	// ONNX are .onnx files served through the onnx plugin.
	ONNX         []string
	Outputs      []string
	Catalogs     []string
	Offline      bool
	HTTP, GRPC   string
	MaxBatch     int
	MaxDelay     time.Duration
	Queue        int
	Instances    int
	DrainTimeout time.Duration
	Timeout      time.Duration
	MaxBody      int64
	// Config is a YAML model list (internal/config.ServeList) replacing
	// the model flags.
	Config string
	// Precision int8 serves int8 models made from the --model and --arch
	// models (Quant says how), or checks that --onnx files are int8.
	Precision string
	Quant     quantFlags
	// onnxNames names served .onnx files that stand for a --model or
	// --arch model (with --precision int8).
	onnxNames map[string]string

	changed func(string) bool

	// ready, when set, is called with the listening addresses (tests).
	ready func(httpAddr, grpcAddr string)
}

// NewCmdServe returns `gozoo serve`.
func NewCmdServe(f *Factory, runF func(context.Context, *ServeOptions) error) *cobra.Command {
	o := &ServeOptions{f: f}
	cmd := &cobra.Command{
		Use:   "serve [--model NAME]... [--arch ARCH --weights W] [--onnx FILE]... | --config models.yaml",
		Short: "Serve models over the Open Inference Protocol (KServe v2, HTTP and gRPC)",
		Long: `Serve answers KServe v2 / Triton inference requests for one or more models:
REST on --http (/v2/health/ready, /v2/models/NAME, POST /v2/models/NAME/infer,
/metrics) and gRPC (inference.GRPCInferenceService) on --grpc.

Each model takes an FP32 "input" tensor or BYTES "image" (encoded images,
preprocessed exactly as gozoo extract does), and answers the layers a request
names in "outputs", by PyTorch module path, or its default output. Requests are
batched dynamically (--max-batch rows, --max-delay), queued up to --queue
per model (then 503 with Retry-After), and run on --instances plugin
processes per model that share the cores. SIGTERM drains: readiness turns
false, accepted requests finish, then every plugin stops within
--drain-timeout.

With no model flags the embedded ` + zoo.DefaultModel + ` serves.`,
		Example: `  gozoo serve --model resnet50.tv_in1k --http 127.0.0.1:8000 --grpc 127.0.0.1:8001
  gozoo serve --arch resnet18 --weights resnet18.pth --name resnet18 --instances 2
  gozoo serve --config models.yaml   # version: 1, models: [{name:, model:|arch:|onnx:, max_batch:, ...}]
  curl -s localhost:8000/v2/models/resnet18`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runServe(cmd.Context(), o)
		},
	}
	o.Model.register(cmd, true)
	fl := cmd.Flags()
	fl.StringSliceVar(&o.Models, "model", nil, "catalog models to serve, repeated or comma-separated (gozoo zoo list)")
	fl.StringVar(&o.Name, "name", "", "name of the --arch model in URLs (default: the arch)")
	fl.StringSliceVar(&o.ONNX, "onnx", nil, ".onnx files to serve (plugin onnx), each named after its file")
	fl.StringSliceVar(&o.Outputs, "outputs", nil, "layers every model exposes (default: every layer whose first dimension is the batch)")
	fl.StringSliceVar(&o.Catalogs, "catalog", nil, "extra catalog YAML files")
	fl.BoolVar(&o.Offline, "offline", false, "use only cached weights; never download")
	fl.StringVar(&o.HTTP, "http", "127.0.0.1:8000", "HTTP listen address (host:port; port 0 picks one)")
	fl.StringVar(&o.GRPC, "grpc", "127.0.0.1:8001", `gRPC listen address ("" turns gRPC off)`)
	fl.IntVar(&o.MaxBatch, "max-batch", 8, "most rows in one forward pass; 1 turns dynamic batching off")
	fl.DurationVar(&o.MaxDelay, "max-delay", 2*time.Millisecond, "how long a request waits for others to join its batch")
	fl.IntVar(&o.Queue, "queue", 64, "requests waiting per model before 503")
	fl.IntVar(&o.Instances, "instances", 1, "plugin processes per model; --threads (default: every core) is split between them")
	fl.DurationVar(&o.DrainTimeout, "drain-timeout", 30*time.Second, "on SIGTERM, how long accepted requests may take before the server stops")
	fl.DurationVar(&o.Timeout, "timeout", time.Minute, "longest a request may take, queueing included")
	fl.Int64Var(&o.MaxBody, "max-body", 64<<20, "largest request body (bytes)")
	fl.StringVar(&o.Config, "config", "", "YAML model list (version: 1, models: [...]) replacing the model flags; see README's serving section")
	fl.StringVar(&o.Precision, "precision", "", "fp32 or int8: int8 serves the models quantized (needs --calibrate; results are cached in $GOZOO_CACHE/quantized), or checks that --onnx files are int8 (default: each model's own)")
	o.Quant.register(cmd)
	o.changed = func(n string) bool { return cmd.Flags().Changed(n) }
	return cmd
}

func (o *ServeOptions) validate() error {
	switch {
	case o.MaxBatch < 1:
		return usageErrorf("--max-batch %d: want 1 or more", o.MaxBatch)
	case o.MaxDelay < 0:
		return usageErrorf("--max-delay %v: want 0 or more", o.MaxDelay)
	case o.Queue < 1:
		return usageErrorf("--queue %d: want 1 or more", o.Queue)
	case o.Instances < 1:
		return usageErrorf("--instances %d: want 1 or more", o.Instances)
	case o.DrainTimeout <= 0:
		return usageErrorf("--drain-timeout %v: want a positive duration", o.DrainTimeout)
	case o.HTTP == "":
		return usageErrorf("--http is required (host:port)")
	}
	if o.Config != "" && o.changed != nil {
		var both []string
		for _, n := range serveModelFlags {
			if o.changed(n) {
				both = append(both, "--"+n)
			}
		}
		if len(both) > 0 {
			return usageErrorf("--config %s lists the models and their settings, so %s conflicts with it: set it per model in the file, or drop --config", o.Config, strings.Join(both, ", "))
		}
	}
	if o.Name != "" && o.Model.Arch == "" {
		return usageErrorf("--name names the --arch model: give --arch too")
	}
	switch o.Precision {
	case "", zoo.PrecisionFP32, zoo.PrecisionInt8:
	default:
		return usageErrorf("--precision %q: use fp32 or int8", o.Precision)
	}
	if given := o.Quant.given(); o.Precision != zoo.PrecisionInt8 && len(given) > 0 {
		return usageErrorf("%s quantize the models: give --precision int8 too", strings.Join(given, ", "))
	}
	if o.Config != "" && o.Precision != "" {
		return usageErrorf("--precision applies to the model flags; in a --config list, serve the int8 model gozoo quantize writes as onnx: FILE")
	}
	return nil
}

// quantize replaces the --model and --arch models by int8 models made
// from them (or found in the cache of quantized models), served as .onnx
// files under the same names, and checks that --onnx files have the
// precision asked for.
func (o *ServeOptions) quantize(ctx context.Context) error {
	for _, path := range o.ONNX {
		card, err := zoo.ReadCard(path)
		if err != nil {
			return err
		}
		int8 := card != nil && card.Precision == zoo.PrecisionInt8
		if o.Precision == zoo.PrecisionInt8 && !int8 || o.Precision == zoo.PrecisionFP32 && int8 {
			return usageErrorf("--precision %s: %s is not (its model card %s says otherwise or is missing): quantize with gozoo quantize, or drop --precision", o.Precision, path, zoo.CardPath(path))
		}
	}
	if o.Precision != zoo.PrecisionInt8 {
		return nil
	}
	names := o.Models
	if len(names) == 0 && o.Model.Arch == "" && len(o.ONNX) == 0 {
		names = []string{zoo.DefaultModel}
	}
	o.onnxNames = map[string]string{}
	add := func(q *QuantizeOptions, name string) error {
		path, err := q.quantized(ctx)
		if err != nil {
			return fmt.Errorf("model %s: %w", name, err)
		}
		o.ONNX = append(o.ONNX, path)
		o.onnxNames[path] = name
		return nil
	}
	var keep []string // catalog models that are int8 already
	for _, name := range names {
		cf := catalogFlags{Model: name, Catalogs: o.Catalogs, Offline: o.Offline}
		if p, err := declaredPrecision(&cf, ""); err != nil {
			return err
		} else if p == zoo.PrecisionInt8 {
			keep = append(keep, name)
			continue
		}
		q := &QuantizeOptions{f: o.f, Model: modelFlags{Threads: o.Model.Threads}, Catalog: cf,
			Layers: o.Outputs, Quant: o.Quant, Dataset: "auto", Workers: 2, BatchSize: 8}
		if err := add(q, name); err != nil {
			return err
		}
	}
	if o.Model.Arch != "" {
		name := o.Name
		if name == "" {
			name = o.Model.Arch
		}
		q := &QuantizeOptions{f: o.f, Model: o.Model, Catalog: catalogFlags{Catalogs: o.Catalogs, Offline: o.Offline},
			Layers: o.Outputs, Quant: o.Quant, Dataset: "auto", Workers: 2, BatchSize: 8}
		if err := add(q, name); err != nil {
			return err
		}
	}
	o.Models, o.Model.Arch, o.Model.Weights, o.Name = keep, "", "", ""
	return nil
}

// serveModelFlags are the flags a --config model list replaces.
var serveModelFlags = []string{"model", "arch", "name", "weights", "plugin", "opt", "num-classes", "seed", "onnx", "outputs",
	"instances", "threads", "max-batch", "max-delay", "queue"}

// configModels resolves the --config model list: each model as the flags
// would give it, its unset settings the flags' defaults. An error names
// the model's line in the file.
func (o *ServeOptions) configModels(ctx context.Context) ([]serve.Model, error) {
	l, err := config.LoadServe(o.Config)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.f.Err, "models: %d from %s\n", len(l.Models), o.Config)
	var out []serve.Model
	for _, e := range l.Models {
		c := *o
		c.Config, c.changed = "", nil
		c.Models, c.ONNX, c.Name, c.Outputs = nil, nil, e.Name, e.Outputs
		c.Model = modelFlags{Arch: e.Arch, Plugin: e.Plugin, Weights: e.Weights, Device: o.Model.Device, Threads: e.Threads}
		for _, k := range slices.Sorted(maps.Keys(e.Options)) {
			c.Model.Opts = append(c.Model.Opts, fmt.Sprintf("%s=%v", k, e.Options[k]))
		}
		switch {
		case e.Model != "":
			c.Models = []string{e.Model}
		case e.ONNX != "":
			c.ONNX = []string{e.ONNX}
		}
		if e.Instances > 0 {
			c.Instances = e.Instances
		}
		if e.MaxBatch > 0 {
			c.MaxBatch = e.MaxBatch
		}
		if e.MaxDelay != "" {
			c.MaxDelay = e.Delay
		}
		if e.Queue > 0 {
			c.Queue = e.Queue
		}
		ms, err := c.models(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: model %s: %w", o.Config, e.Line, e.Name, err)
		}
		out = append(out, ms...)
	}
	return out, nil
}

// models resolves the flags (or the --config model list) into served
// models, printing every default it picks.
func (o *ServeOptions) models(ctx context.Context) ([]serve.Model, error) {
	if o.Config != "" {
		return o.configModels(ctx)
	}
	var hostOpts []host.Option
	if len(o.f.PluginPath) > 0 {
		hostOpts = append(hostOpts, host.WithPluginPath(o.f.PluginPath...))
	}
	threads := o.Model.Threads
	if threads == 0 {
		threads = runtime.NumCPU()
	}
	base := serve.Model{Instances: o.Instances, Threads: threads, MaxBatch: o.MaxBatch, MaxDelay: o.MaxDelay, MaxQueue: o.Queue, Outputs: o.Outputs}
	names := o.Models
	if len(names) == 0 && o.Model.Arch == "" && len(o.ONNX) == 0 {
		names = []string{zoo.DefaultModel}
		fmt.Fprintf(o.f.Err, "no --model, --arch or --onnx: serving the embedded %s (gozoo zoo show %s)\n", zoo.DefaultModel, zoo.DefaultModel)
	}
	var out []serve.Model
	for _, name := range names {
		eo := &ExtractOptions{f: o.f, Model: modelFlags{Device: o.Model.Device, Threads: o.Model.Threads},
			Images: imageFlags{catalogFlags: catalogFlags{Model: name, Catalogs: o.Catalogs, Offline: o.Offline}}}
		pre, _, err := eo.resolveImageModel(ctx)
		if err != nil {
			return nil, err
		}
		req, err := eo.Model.request()
		if err != nil {
			return nil, err
		}
		tf, err := pre.Transform()
		if err != nil {
			return nil, fmt.Errorf("model %s: preprocessing: %w", name, err)
		}
		m := base
		m.Name, m.Transform, m.DefaultOutputs = name, &tf, eo.Layers
		if o.Name != "" && o.Model.Arch == "" {
			m.Name = o.Name // a --config list's name:
		}
		m.Open = serve.Plugin(eo.Model.Plugin, *req, hostOpts...)
		out = append(out, m)
		o.describe(m, eo.Model.Plugin, req)
	}
	if o.Model.Arch != "" {
		r, err := o.f.resolve(ctx, o.Model.Arch, o.Model.Plugin)
		if err != nil {
			return nil, err
		}
		req, err := o.Model.request()
		if err != nil {
			return nil, err
		}
		if req.WeightsPath != "" {
			if req.WeightsPath, err = filepath.Abs(req.WeightsPath); err != nil {
				return nil, err
			}
		}
		m := base
		m.Name = o.Name
		if m.Name == "" {
			m.Name = o.Model.Arch
		}
		if in := r.Arch.Input.Shape; len(in) == 4 && in[1] == 3 {
			// An image backbone: torchvision's ImageNet eval transform,
			// as gozoo extract uses with --arch.
			tf, err := zoo.ImageNetPreprocess().Transform()
			if err != nil {
				return nil, err
			}
			m.Transform = &tf
			// Any image size runs; rows of one size batch together.
			m.InputShape = []int64{3, -1, -1}
		}
		for _, opt := range r.Arch.Options {
			if opt.Name != "batch_first" {
				continue
			}
			// A sequence model: [N, T, F] rows of any length T, with
			// their valid lengths. The server refuses a model loaded with
			// its batch elsewhere ([T, N, F]).
			m.Lengths = true
			if in := r.Arch.Input.Shape; len(in) == 3 {
				f := in[2]
				if v, ok := req.Options["input_size"]; ok {
					if f, err = strconv.ParseInt(v, 10, 64); err != nil || f < 1 {
						return nil, usageErrorf("--opt input_size=%s: want a positive integer", v)
					}
				}
				m.InputShape = []int64{-1, f}
			} else if len(in) == 2 {
				m.InputShape = []int64{-1} // token ids [N, T]
			}
		}
		m.Open = serve.Plugin(r.Plugin, *req, hostOpts...)
		out = append(out, m)
		o.describe(m, r.Plugin, req)
	}
	for _, path := range o.ONNX {
		abs, err := filepath.Abs(path)
		if err != nil {
			return nil, err
		}
		m := base
		m.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
		if o.Name != "" && o.Model.Arch == "" {
			m.Name = o.Name // a --config list's name:
		}
		if n, ok := o.onnxNames[path]; ok {
			m.Name = n
		}
		// A model card beside the file (gozoo quantize writes one) gives
		// the transform for images and the default output.
		card, err := zoo.ReadCard(path)
		if err != nil {
			return nil, err
		}
		if card != nil {
			tf, err := card.Preprocess.Transform()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", zoo.CardPath(path), err)
			}
			m.Transform = &tf
			if card.Layer != "" {
				m.DefaultOutputs = []string{card.Layer}
			}
		}
		req := &sdk.LoadRequest{Arch: "onnx", WeightsPath: abs, Device: o.Model.Device}
		m.Open = serve.Plugin("onnx", *req, hostOpts...)
		out = append(out, m)
		o.describe(m, "onnx", req)
	}
	return out, nil
}

// describe prints what a model is served with, defaults included.
func (o *ServeOptions) describe(m serve.Model, plugin string, req *sdk.LoadRequest) {
	w := o.f.Err
	weights := req.WeightsPath
	if weights == "" {
		weights = fmt.Sprintf("random init, seed %d", req.Seed)
	}
	fmt.Fprintf(w, "model %s: plugin %s, arch %s, weights %s\n", m.Name, plugin, req.Arch, weights)
	per := "engine default"
	if m.Threads > 0 {
		per = fmt.Sprintf("%d", max(1, m.Threads/m.Instances))
	}
	fmt.Fprintf(w, "  %d instance(s), %s thread(s) each; batching: max %d rows, delay %v, queue %d\n", m.Instances, per, m.MaxBatch, m.MaxDelay, m.MaxQueue)
	if m.Transform != nil {
		fmt.Fprintf(w, "  images: %s\n", describeTransform(m.Transform))
	} else {
		fmt.Fprintf(w, "  images: not accepted (no preprocessing); send FP32 \"input\"\n")
	}
	if m.Lengths {
		fmt.Fprintf(w, "  sequence model: needs an INT64 \"lengths\" input\n")
	}
}

func describeTransform(t *imageproc.Transform) string {
	s := fmt.Sprintf("resize %d %s, crop %dx%d, mean %v, std %v", t.ResizeSize, t.Interp, t.CropH, t.CropW, t.Mean, t.Std)
	if t.Grayscale {
		s += ", grayscale"
	}
	return s
}

func runServe(ctx context.Context, o *ServeOptions) error {
	if err := o.validate(); err != nil {
		return err
	}
	// SIGTERM must leave the drain its time before Main kills plugins.
	o.f.grace.Store(int64(o.DrainTimeout + 5*time.Second))
	if err := o.quantize(ctx); err != nil {
		return err
	}
	models, err := o.models(ctx)
	if err != nil {
		return err
	}
	// The host used to resolve archs is not needed any more: its plugin
	// processes go now rather than idling beside the served ones.
	if err := o.f.Close(); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(o.f.Err, &slog.HandlerOptions{Level: slog.LevelWarn}))
	s, err := serve.New(ctx, models, serve.WithLogger(logger), serve.WithTimeout(o.Timeout), serve.WithMaxBodyBytes(o.MaxBody))
	if err != nil {
		return err
	}
	for _, name := range s.Models() {
		meta, _ := describeOutputs(s, name)
		fmt.Fprintf(o.f.Err, "model %s: %s\n", name, meta)
	}
	hl, err := net.Listen("tcp", o.HTTP)
	if err != nil {
		return errors.Join(fmt.Errorf("listen --http %s: %w", o.HTTP, err), s.Close())
	}
	hs := &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: o.Timeout, IdleTimeout: 2 * time.Minute}
	errc := make(chan error, 2)
	go func() { errc <- hs.Serve(hl) }()
	var gs *grpc.Server
	grpcAddr := ""
	if o.GRPC != "" {
		gl, err := net.Listen("tcp", o.GRPC)
		if err != nil {
			hs.Close()
			return errors.Join(fmt.Errorf("listen --grpc %s: %w", o.GRPC, err), s.Close())
		}
		gs = grpc.NewServer(s.GRPCServerOptions()...)
		s.RegisterGRPC(gs)
		go func() { errc <- gs.Serve(gl) }()
		grpcAddr = gl.Addr().String()
	}
	fmt.Fprintf(o.f.Err, "listening: http %s, grpc %s (ready: GET /v2/health/ready)\n", hl.Addr(), orNone(grpcAddr))
	if o.ready != nil {
		o.ready(hl.Addr().String(), grpcAddr)
	}
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	start := time.Now()
	fmt.Fprintf(o.f.Err, "draining: not ready, finishing accepted requests (up to %v)\n", o.DrainTimeout)
	dctx, cancel := context.WithTimeout(context.Background(), o.DrainTimeout)
	defer cancel()
	err = s.Shutdown(dctx)
	herr := hs.Shutdown(dctx)
	if gs != nil {
		done := make(chan struct{})
		go func() { gs.GracefulStop(); close(done) }()
		select {
		case <-done:
		case <-dctx.Done():
			gs.Stop()
		}
	}
	fmt.Fprintf(o.f.Err, "stopped in %v\n", time.Since(start).Round(time.Millisecond))
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, err, herr)
}

func orNone(s string) string {
	if s == "" {
		return "off"
	}
	return s
}

// describeOutputs summarises a served model's inputs and outputs.
func describeOutputs(s *serve.Server, name string) (string, error) {
	info, ok := s.Info(name)
	if !ok {
		return "", fmt.Errorf("model %s is not served", name)
	}
	var ins, outs []string
	for _, in := range info.Inputs {
		ins = append(ins, fmt.Sprintf("%s %s %s", in.Name, in.Datatype, sdk.FormatShape(in.Shape)))
	}
	for i, out := range info.Outputs {
		if i == 12 {
			outs = append(outs, fmt.Sprintf("... %d more: GET /v2/models/%s lists them", len(info.Outputs)-i, name))
			break
		}
		outs = append(outs, out.Name)
	}
	return fmt.Sprintf("inputs %s; %d outputs (%s); default output %s",
		strings.Join(ins, ", "), len(info.Outputs), strings.Join(outs, ", "), strings.Join(info.DefaultOutputs, ",")), nil
}
