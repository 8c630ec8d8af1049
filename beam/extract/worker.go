package extract

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/zoo/dataset"
	"github.com/gozoo/gozoo/zoo/featfile"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

// Batch is a run of consecutive inputs: positions Start..Start+len(Paths)-1
// of Total.
type Batch struct {
	Start  int
	Total  int
	Paths  []string
	Labels []int64 // -1 without labels
}

// Shard is what extracting a batch wrote: a manifest entry, with the
// total number of inputs for the manifest.
type Shard struct {
	File    string
	Start   int
	Inputs  int
	Rows    int
	Total   int
	Skipped []Skipped
}

// Skipped is an input that produced no row.
type Skipped struct {
	Path  string
	Error string
}

// worker is one DoFn instance's model: a plugin host, the plugin and the
// loaded model, with the preprocessing. It is not safe for concurrent
// use; a DoFn instance runs one bundle at a time.
type worker struct {
	// mu is held while a batch is processed and while the worker ends;
	// ended is set when its job is over.
	mu     sync.Mutex
	ended  bool
	cfg    *Config
	host   *host.Client
	plugin string
	model  sdk.Model
	tf     imageproc.Transform
	budget *imageproc.Budget
}

// open starts the host, the plugin and the model.
func (w *worker) open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			err = errors.Join(err, w.close())
		}
	}()
	if w.tf, err = w.cfg.Pre.Transform(); err != nil {
		return fmt.Errorf("%w: preprocessing: %v", ErrConfig, err)
	}
	w.budget = imageproc.NewBudget(w.cfg.DecodeMemory)
	var opts []host.Option
	if len(w.cfg.PluginPath) > 0 {
		opts = append(opts, host.WithPluginPath(w.cfg.PluginPath...))
	}
	if w.host, err = host.New(opts...); err != nil {
		return err
	}
	weights, err := w.cfg.fetchWeights(ctx)
	if err != nil {
		return err
	}
	if w.plugin, err = w.cfg.choosePlugin(ctx, w.host); err != nil {
		return err
	}
	bb, err := w.host.Backbone(ctx, w.plugin)
	if err != nil {
		return err
	}
	if w.model, err = bb.Load(ctx, w.cfg.request(weights)); err != nil {
		return fmt.Errorf("load %s from plugin %s: %w", w.cfg.Arch, w.plugin, err)
	}
	return nil
}

// newWorker returns the worker of a DoFn instance; its model starts with
// open.
func newWorker(cfg *Config) *worker {
	w := &worker{cfg: cfg}
	live.Store(w, struct{}{})
	return w
}

// end closes the worker for good, once its batch in progress is over.
func (w *worker) end() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended = true
	live.Delete(w)
	return w.close()
}

// close stops the model, the plugin and the host; it is idempotent.
func (w *worker) close() error {
	var err error
	if w.model != nil {
		err = w.model.Close()
		w.model = nil
	}
	if w.host != nil {
		err = errors.Join(err, w.host.Close())
		w.host = nil
	}
	return err
}

// live holds the workers of this process. A runner may drop a DoFn
// instance without Teardown (prism does, at the end of a job and after a
// failed bundle), and a failed job's other bundles may still be running
// when the job's end is reported; endLocal ends what is left when the
// pipeline ran in this process.
var live sync.Map

// errEnded fails a batch that a worker is handed after its job ended.
var errEnded = errors.New("extract: the job has ended")

// endLocal ends every worker of this process, each once its batch in
// progress is over, so that nothing is written after the job returns.
func endLocal() error {
	var err error
	live.Range(func(k, _ any) bool {
		err = errors.Join(err, k.(*worker).end())
		return true
	})
	return err
}

// permanent marks an error a retry cannot cure: an image that does not
// decode under OnError "fail", bad settings.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// faultFunc runs at points of each attempt at a batch: "extract" before
// the forward pass, "written" when the shard is written under its
// temporary name, "published" once it is in place. An error it returns
// fails the attempt there.
type faultFunc func(point string, w *worker, b *Batch, attempt int) error

// faultHook holds the faultFunc tests set.
var faultHook atomic.Pointer[faultFunc]

func fault(point string, w *worker, b *Batch, attempt int) error {
	f := faultHook.Load()
	if f == nil {
		return nil
	}
	return (*f)(point, w, b, attempt)
}

// process extracts b, trying again on a fresh model when an attempt
// fails (up to cfg.Attempts tries), and returns its shard.
func (w *worker) process(ctx context.Context, b *Batch) (*Shard, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.ended {
		return nil, errEnded
	}
	for attempt := 1; ; attempt++ {
		if w.model == nil {
			if err := w.open(ctx); err != nil {
				if attempt >= w.cfg.Attempts || errors.Is(err, ErrConfig) || ctx.Err() != nil {
					return nil, err
				}
				slog.Warn("gozoo-beam: starting the model failed; trying again", "attempt", attempt, "error", err)
				continue
			}
		}
		s, err := w.attempt(ctx, b, attempt)
		if err == nil {
			return s, nil
		}
		// The model and plugin of a failed attempt are not trusted
		// again: a fresh pair runs the next one, as a runner runs a
		// retried bundle on a fresh DoFn instance.
		cerr := w.close()
		var p permanent
		if errors.As(err, &p) || attempt >= w.cfg.Attempts || ctx.Err() != nil {
			return nil, errors.Join(err, cerr)
		}
		slog.Warn("gozoo-beam: batch failed; retrying on a fresh model", "start", b.Start, "attempt", attempt, "of", w.cfg.Attempts, "error", err)
	}
}

// attempt is one try at b.
func (w *worker) attempt(ctx context.Context, b *Batch, attempt int) (*Shard, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	cfg := w.cfg
	// Remote images are copied to local files first, then read as
	// gozoo extract reads files.
	ds := &dataset.Dataset{Kind: "list"}
	staged := map[string]string{}
	var stageDir string
	defer func() {
		if stageDir != "" {
			os.RemoveAll(stageDir)
		}
	}()
	for i, p := range b.Paths {
		local := localPath(p)
		if !isLocal(p) {
			if stageDir == "" {
				var err error
				if stageDir, err = os.MkdirTemp("", "gozoo-beam-stage-"); err != nil {
					return nil, err
				}
			}
			tmp, err := stageFile(ctx, p, stageDir)
			if err != nil {
				return nil, err // reading the store may work on a retry
			}
			staged[tmp] = p
			local = tmp
		}
		ds.Samples = append(ds.Samples, dataset.Sample{Index: b.Start + i, Path: local, Label: b.Labels[i]})
	}
	per := w.tf.Len()
	var (
		rows    []featfile.Row
		skipped []featfile.Skip
		x       []float32
	)
	for lb := range dataset.LoadWithin(ctx, ds, w.tf, 0, len(ds.Samples), cfg.DecodeWorkers, w.budget) {
		for i := range lb.Samples {
			path := b.Paths[i]
			if err := lb.Errs[i]; err != nil {
				if errors.Is(err, imageproc.ErrOverBudget) {
					err = fmt.Errorf("%w: raise --decode-memory (now %d bytes) or downscale the image", err, cfg.DecodeMemory)
				}
				msg := err.Error()
				if tmp := lb.Samples[i].Path; staged[tmp] != "" {
					msg = strings.ReplaceAll(msg, tmp, path)
				}
				if cfg.OnError == "fail" {
					return nil, permanent{fmt.Errorf("%s (with --on-error fail: fix or remove the file and rerun, or rerun with --on-error skip)", msg)}
				}
				slog.Warn("gozoo-beam: skip", "path", path, "error", msg)
				skipped = append(skipped, featfile.Skip{Path: path, Error: msg})
				continue
			}
			rows = append(rows, featfile.Row{Path: path, Label: lb.Samples[i].Label})
			x = append(x, lb.X[i*per:(i+1)*per]...)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s := &Shard{Start: b.Start, Inputs: len(b.Paths), Rows: len(rows), Total: b.Total}
	for _, k := range skipped {
		s.Skipped = append(s.Skipped, Skipped(k))
	}
	if len(rows) == 0 {
		return s, nil // every input skipped: no shard file
	}
	if err := fault("extract", w, b, attempt); err != nil {
		return nil, err
	}
	in, err := sdk.NewTensor(append([]int64{int64(len(rows))}, w.tf.Shape()...), x)
	if err != nil {
		return nil, err
	}
	res, err := w.model.Extract(ctx, &sdk.ExtractRequest{Layers: cfg.Layers, Input: in})
	if err != nil {
		return nil, fmt.Errorf("extract %s..%s: %w", rows[0].Path, rows[len(rows)-1].Path, err)
	}
	s.File = cfg.ShardName(b.Start, b.Paths)
	dest := joinPath(dirOf(cfg.Output), s.File)
	if err := w.write(ctx, b, attempt, dest, rows, res.Outputs, skipped); err != nil {
		return nil, err
	}
	if err := fault("published", w, b, attempt); err != nil {
		return nil, err
	}
	return s, nil
}

// write writes one shard under a temporary name and publishes it at dest.
func (w *worker) write(ctx context.Context, b *Batch, attempt int, dest string, rows []featfile.Row, feats map[string]*sdk.Tensor, skipped []featfile.Skip) error {
	cfg := w.cfg
	tmp := tempName(localPath(dest))
	if !isLocal(dest) {
		f, err := os.CreateTemp("", "gozoo-beam-shard-*."+cfg.Format)
		if err != nil {
			return err
		}
		f.Close()
		os.Remove(f.Name())
		tmp = f.Name()
	} else if err := os.MkdirAll(dirOf(dest), 0o755); err != nil {
		return err
	}
	fw, err := featfile.Open(tmp, featfile.Run{"fingerprint": cfg.Fingerprint()}, cfg.Layers)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		os.RemoveAll(tmp + ".partial")
		os.Remove(tmp)
		return err
	}
	if err := fw.Append(rows, feats, skipped, len(b.Paths)); err != nil {
		return fail(err)
	}
	fw.SetClasses(nil, cfg.ModelClasses)
	fw.SetInfo(cfg.Info)
	if err := fw.Finish(); err != nil {
		return fail(err)
	}
	if err := fault("written", w, b, attempt); err != nil {
		return err // the temporary file stays, as after a crash
	}
	return publish(ctx, tmp, dest)
}
