package extract

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/apache/beam/sdks/v2/go/pkg/beam"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/options/jobopts"
	"github.com/apache/beam/sdks/v2/go/pkg/beam/register"
	"github.com/gozoo/gozoo/zoo/dataset"
	"github.com/gozoo/gozoo/zoo/featfile"
)

func init() {
	beam.RegisterType(reflect.TypeOf((*Batch)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Shard)(nil)).Elem())
	beam.RegisterType(reflect.TypeOf((*Skipped)(nil)).Elem())
	register.DoFn3x1[context.Context, []byte, func(Batch), error](&listFn{})
	register.DoFn3x1[context.Context, Batch, func(Shard), error](&extractFn{})
	register.DoFn4x1[context.Context, int, func(*Batch) bool, func(Shard), error](&extractGroupFn{})
	register.DoFn3x1[context.Context, int, func(*Shard) bool, error](&manifestFn{})
	register.DoFn2x0[Batch, func(int, Batch)](&dealFn{})
	register.Function2x1(byKey)
	register.Emitter1[Batch]()
	register.Emitter1[Shard]()
	register.Emitter2[int, Batch]()
	register.Iter1[Batch]()
	register.Iter1[Shard]()
}

// Build adds the extraction to s: list and batch the inputs, extract each
// batch into a shard, write the manifest.
func Build(s beam.Scope, cfg Config) {
	s = s.Scope("gozoo-extract")
	batches := beam.ParDo(s, &listFn{Cfg: cfg}, beam.Impulse(s))
	var shards beam.PCollection
	if cfg.Workers > 0 {
		// One stage per worker, whose single element is its group of
		// batches: a runner can neither merge two workers' groups into
		// one bundle nor split a group, so exactly Workers models run,
		// side by side.
		dealt := beam.ParDo(s, &dealFn{Workers: cfg.Workers, BatchSize: cfg.BatchSize}, batches)
		var outs []beam.PCollection
		for i, part := range beam.Partition(s, cfg.Workers, byKey, dealt) {
			ws := s.Scope(fmt.Sprintf("worker%d", i))
			outs = append(outs, beam.ParDo(ws, &extractGroupFn{Cfg: cfg}, beam.GroupByKey(ws, part)))
		}
		shards = beam.Flatten(s, outs...)
	} else {
		shards = beam.ParDo(s, &extractFn{Cfg: cfg}, beam.Reshuffle(s, batches))
	}
	beam.ParDo0(s, &manifestFn{Cfg: cfg}, beam.GroupByKey(s, beam.AddFixedKey(s, shards)))
}

// Run checks cfg, runs the extraction on runner ("prism", "flink",
// "spark", "dataflow"; their flags are Beam's) and returns the manifest it
// wrote, or nil when the job was only submitted (--async) or printed
// (--dry_run). Workers the runner left open in this process are closed.
func Run(ctx context.Context, runner string, cfg Config) (*featfile.Manifest, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	p, s := beam.NewPipelineWithRoot()
	Build(s, cfg)
	_, err := beam.Run(ctx, runner, p)
	err = errors.Join(err, endLocal())
	if err != nil {
		return nil, err
	}
	if submittedOnly() {
		return nil, nil
	}
	b, err := readFile(ctx, cfg.ManifestPath())
	if err != nil {
		return nil, fmt.Errorf("the pipeline ended but its manifest cannot be read: %w", err)
	}
	return featfile.ParseManifest(b)
}

// submittedOnly reports whether the runner was asked only to submit the
// job (--async) or to print it (Dataflow's --dry_run): no manifest yet.
func submittedOnly() bool {
	if *jobopts.Async {
		return true
	}
	f := flag.Lookup("dry_run")
	return f != nil && f.Value.String() == "true"
}

// listFn lists the inputs in order and emits them in batches.
type listFn struct{ Cfg Config }

func (f *listFn) ProcessElement(ctx context.Context, _ []byte, emit func(Batch)) error {
	var paths []string
	var labels []int64
	labelled := -1
	for _, in := range f.Cfg.Inputs {
		ds, err := listInput(ctx, in)
		if err != nil {
			return permanent{err}
		}
		has := 0
		if len(ds.Samples) > 0 && ds.Samples[0].Label >= 0 {
			has = 1
		}
		if labelled >= 0 && has != labelled {
			return permanent{fmt.Errorf("%w: --input %s: some inputs have labels and some do not; label every list or none", ErrConfig, in)}
		}
		labelled = has
		for _, s := range ds.Samples {
			paths = append(paths, s.Path)
			labels = append(labels, s.Label)
		}
	}
	total := len(paths)
	for start := 0; start < total; start += f.Cfg.BatchSize {
		end := min(start+f.Cfg.BatchSize, total)
		emit(Batch{Start: start, Total: total, Paths: paths[start:end], Labels: labels[start:end]})
	}
	return nil
}

// listInput lists one --input: a glob (its image files, in gozoo
// extract's folder order, unlabelled), or a list file.
func listInput(ctx context.Context, in string) (*dataset.Dataset, error) {
	if strings.ContainsAny(in, "*?[") {
		matches, err := list(ctx, in)
		if err != nil {
			return nil, fmt.Errorf("--input %s: %w", in, err)
		}
		var paths []string
		for _, m := range matches {
			if dataset.IsImage(m) {
				paths = append(paths, m)
			}
		}
		if len(paths) == 0 {
			return nil, fmt.Errorf("%w: --input %s matches no image file (%d files)", dataset.ErrEmpty, in, len(matches))
		}
		dataset.SortPaths(paths)
		ds := &dataset.Dataset{Kind: "glob"}
		for i, p := range paths {
			ds.Samples = append(ds.Samples, dataset.Sample{Index: i, Path: p, Label: -1})
		}
		return ds, nil
	}
	if dataset.IsImage(in) {
		return &dataset.Dataset{Kind: "file", Samples: []dataset.Sample{{Path: in, Label: -1}}}, nil
	}
	r, err := openRead(ctx, in)
	if err != nil {
		return nil, fmt.Errorf("--input %s: %w (give a glob such as 'photos/*.jpg' or a list file)", in, err)
	}
	defer r.Close()
	dir := dirOf(in)
	ds, err := dataset.ParseList(r, in, func(p string) string { return joinPath(dir, p) })
	if err != nil {
		return nil, err
	}
	if len(ds.Samples) == 0 {
		return nil, fmt.Errorf("%w: list %s names no image", dataset.ErrEmpty, in)
	}
	return ds, nil
}

// dealFn deals batches into Workers groups, round robin by position.
type dealFn struct{ Workers, BatchSize int }

func (f *dealFn) ProcessElement(b Batch, emit func(int, Batch)) {
	emit(b.Start/f.BatchSize%f.Workers, b)
}

// byKey partitions dealt batches by their group.
func byKey(group int, _ Batch) int { return group }

// extractFn extracts one batch at a time with the DoFn instance's model.
type extractFn struct {
	Cfg Config
	w   *worker
}

func (f *extractFn) Setup(ctx context.Context) error {
	f.w = newWorker(&f.Cfg)
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	return f.w.open(ctx)
}

func (f *extractFn) ProcessElement(ctx context.Context, b Batch, emit func(Shard)) error {
	s, err := f.w.process(ctx, &b)
	if err != nil {
		return err
	}
	emit(*s)
	return nil
}

func (f *extractFn) Teardown(context.Context) error {
	if f.w == nil {
		return nil
	}
	return f.w.end()
}

// extractGroupFn extracts a group of batches in turn with the DoFn
// instance's model (Config.Workers groups).
type extractGroupFn struct {
	Cfg Config
	w   *worker
}

func (f *extractGroupFn) Setup(ctx context.Context) error {
	f.w = newWorker(&f.Cfg)
	f.w.mu.Lock()
	defer f.w.mu.Unlock()
	return f.w.open(ctx)
}

func (f *extractGroupFn) ProcessElement(ctx context.Context, _ int, batches func(*Batch) bool, emit func(Shard)) error {
	var b Batch
	for batches(&b) {
		s, err := f.w.process(ctx, &b)
		if err != nil {
			return err
		}
		emit(*s)
	}
	return nil
}

func (f *extractGroupFn) Teardown(context.Context) error {
	if f.w == nil {
		return nil
	}
	return f.w.end()
}

// manifestFn writes the manifest from every shard, once per input range,
// and removes temporary files that failed attempts left.
type manifestFn struct{ Cfg Config }

func (f *manifestFn) ProcessElement(ctx context.Context, _ int, shards func(*Shard) bool) error {
	m := &featfile.Manifest{Format: featfile.ManifestFormat, Layers: f.Cfg.Layers, Info: f.Cfg.Info}
	byStart := map[int]featfile.ManifestShard{}
	var s Shard
	for shards(&s) {
		e := featfile.ManifestShard{File: s.File, Start: s.Start, Inputs: s.Inputs, Rows: s.Rows}
		for _, k := range s.Skipped {
			e.Skipped = append(e.Skipped, featfile.Skip(k))
		}
		if old, ok := byStart[s.Start]; ok {
			// A runner may deliver a retried batch's output twice
			// only if it also ran it twice: the same name, the same
			// rows. Anything else is a bug worth stopping for.
			if old.File != e.File || old.Rows != e.Rows || old.Inputs != e.Inputs {
				return fmt.Errorf("two different shards for inputs from %d: %+v and %+v", s.Start, old, e)
			}
			continue
		}
		byStart[s.Start] = e
		m.Inputs = s.Total
	}
	for _, e := range byStart {
		m.Shards = append(m.Shards, e)
		m.Rows += e.Rows
		m.Skipped += len(e.Skipped)
	}
	slices.SortFunc(m.Shards, func(a, b featfile.ManifestShard) int { return a.Start - b.Start })
	if err := m.Check(); err != nil {
		return err
	}
	b, err := m.Marshal()
	if err != nil {
		return err
	}
	if err := writeFile(ctx, f.Cfg.ManifestPath(), b); err != nil {
		return err
	}
	// Temporary shards of failed attempts: every attempt is over now.
	if leftovers, err := list(ctx, f.Cfg.Output+"-*.tmp-*"); err == nil {
		for _, p := range leftovers {
			if isTemp(baseName(p)) {
				remove(ctx, p)
			}
		}
	}
	return nil
}
