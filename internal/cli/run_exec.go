package cli

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gozoo/gozoo/internal/config"
	"github.com/gozoo/gozoo/internal/plots"
	"github.com/gozoo/gozoo/internal/probe"
	"github.com/gozoo/gozoo/zoo/featfile"
	"gonum.org/v1/gonum/mat"
)

// probeMetrics is a probe's metrics.json.
type probeMetrics struct {
	Kind         string   `json:"kind"`
	Method       string   `json:"method"`
	Model        string   `json:"model"`
	Layers       []string `json:"layers"`
	FeatureDim   int      `json:"feature_dim"`
	NTrain       int      `json:"n_train"`
	NVal         int      `json:"n_val"`
	NTest        int      `json:"n_test"`
	FeatureCache []string `json:"feature_cache"`
	probe.Metrics
	LogReg  logregReport       `json:"logreg"`
	KNN     knnReport          `json:"knn"`
	Timings map[string]float64 `json:"timings_s"`
}

type logregReport struct {
	Top1       float64            `json:"top1"`
	C          float64            `json:"c"`
	Sweep      []probe.SweepPoint `json:"sweep"`
	Iterations int                `json:"iterations"`
	Status     string             `json:"status"`
}

type knnReport struct {
	K    int     `json:"k"`
	Top1 float64 `json:"top1"`
}

// runUnit runs one experiment (not a compare) into dir.
func (r *runner) runUnit(ctx context.Context, dir string, u *unit) error {
	switch u.cfg.Kind {
	case config.KindExtract:
		return r.runExtractUnit(ctx, dir, u)
	case config.KindFinetune:
		return r.runFinetuneUnit(ctx, dir, u)
	}
	if err := r.ensureFeatures(ctx, []*unit{u}); err != nil {
		return err
	}
	return r.runProbe(ctx, dir, u)
}

func (r *runner) runProbe(ctx context.Context, dir string, u *unit) error {
	c := u.cfg
	t0 := time.Now()
	fs, err := r.loadFeatures(u)
	if err != nil {
		return err
	}
	fmt.Fprintf(r.f.Err, "features: %s from the cache (%d rows, %d dims)\n", strings.Join(u.layers, ", "), len(fs.Labels), fs.X.RawMatrix().Cols)
	// Labels present, renumbered 0..K-1 in label order.
	present := map[int64]bool{}
	for i, l := range fs.Labels {
		if l < 0 {
			return fmt.Errorf("%s has no label: a probe needs labelled data (an ImageFolder tree, labelled IDX or digits)", fs.Paths[i])
		}
		present[l] = true
	}
	var labelIDs []int64
	for l := range present {
		labelIDs = append(labelIDs, l)
	}
	sort.Slice(labelIDs, func(i, j int) bool { return labelIDs[i] < labelIDs[j] })
	if len(labelIDs) < 2 {
		return fmt.Errorf("data %s has %d class: a probe needs two or more", c.Data.Path, len(labelIDs))
	}
	index := map[int64]int{}
	classes := make([]string, len(labelIDs))
	for i, l := range labelIDs {
		index[l] = i
		classes[i] = strconv.FormatInt(l, 10)
		switch {
		case int(l) < len(fs.Classes):
			classes[i] = fs.Classes[l]
		case len(fs.Classes) == 0 && int(l) < len(c.Data.Classes):
			classes[i] = c.Data.Classes[l]
		}
	}
	y := make([]int, len(fs.Labels))
	for i, l := range fs.Labels {
		y[i] = index[l]
	}
	k := len(classes)
	tr, va, te := probe.Split(y, c.Data.Val, c.Data.Test, c.Seed)
	if len(va) == 0 || len(te) == 0 {
		return r.errAt(u, "data.val", "data.val %g and data.test %g leave %d validation and %d test rows of %d: raise them or data.limit", c.Data.Val, c.Data.Test, len(va), len(te), len(y))
	}
	pick := func(idx []int) []int {
		out := make([]int, len(idx))
		for i, j := range idx {
			out[i] = y[j]
		}
		return out
	}
	trva := append(append([]int(nil), tr...), va...)
	sort.Ints(trva)
	tLoad := time.Since(t0).Seconds()

	// Logistic regression: sweep C on validation, refit on train+val.
	t1 := time.Now()
	xtr, xva := probe.Rows(fs.X, tr), probe.Rows(fs.X, va)
	if c.Probe.Standardize {
		s := probe.FitStandardizer(xtr)
		xtr, xva = s.Apply(xtr), s.Apply(xva)
	}
	sweep, bestC, err := probe.Sweep(ctx, xtr, pick(tr), xva, pick(va), k, probe.SweepConfig{
		CMin: c.Probe.CMin, CMax: c.Probe.CMax, Steps: c.Probe.Steps, Refine: c.Probe.Refine, MaxIter: c.Probe.MaxIter})
	if err != nil {
		return err
	}
	tSweep := time.Since(t1).Seconds()
	t2 := time.Now()
	xfit, xte := probe.Rows(fs.X, trva), probe.Rows(fs.X, te)
	var std *probe.Standardizer
	if c.Probe.Standardize {
		std = probe.FitStandardizer(xfit)
		xfit, xte = std.Apply(xfit), std.Apply(xte)
	}
	lr, err := probe.FitLogReg(ctx, xfit, pick(trva), k, bestC, c.Probe.MaxIter, nil)
	if err != nil {
		return err
	}
	lrScores := lr.Scores(xte)
	lrPred := probe.Argmax(lrScores)
	tRefit := time.Since(t2).Seconds()

	t3 := time.Now()
	knnPred, knnScores := probe.KNN(probe.Rows(fs.X, trva), pick(trva), probe.Rows(fs.X, te), c.Probe.K, k)
	tKNN := time.Since(t3).Seconds()

	yte := pick(te)
	scores, pred := lrScores, lrPred
	if c.Probe.Method == "knn" {
		scores, pred = knnScores, knnPred
	}
	m := probeMetrics{Kind: "probe", Method: c.Probe.Method, Model: u.model.label(), Layers: u.layers,
		FeatureDim: fs.X.RawMatrix().Cols, NTrain: len(tr), NVal: len(va), NTest: len(te), FeatureCache: fs.Files,
		Metrics: probe.Score(scores, pred, yte, classes),
		LogReg:  logregReport{Top1: probe.Accuracy(lrPred, yte), C: bestC, Sweep: sweep, Iterations: lr.Iterations, Status: lr.Status},
		KNN:     knnReport{K: c.Probe.K, Top1: probe.Accuracy(knnPred, yte)},
		Timings: map[string]float64{"features_load": tLoad, "features_extract": fs.Seconds, "sweep": tSweep,
			"refit": tRefit, "knn": tKNN}}
	fmt.Fprintf(r.f.Err, "probe %s: test top-1 %.4f (logreg %.4f at C=%.4g chosen on validation from %d values; knn k=%d %.4f), top-5 %.4f, mean per-class %.4f\n",
		c.Probe.Method, m.Top1, m.LogReg.Top1, bestC, len(sweep), c.Probe.K, m.KNN.Top1, m.Top5, m.MeanPerClassAcc)
	if err := writeJSON(filepath.Join(dir, metricsName), m); err != nil {
		return err
	}
	if err := writeJSON(filepath.Join(dir, "splits.json"), map[string]any{"train": tr, "val": va, "test": te,
		"features": fs.Files, "classes": classes, "label_ids": labelIDs}); err != nil {
		return err
	}
	head := map[string]any{"method": "logreg", "layers": u.layers, "classes": classes, "label_ids": labelIDs,
		"c": bestC, "w_shape": []int{lr.D, lr.K}, "w": lr.W, "b": lr.B}
	if std != nil {
		head["mean"], head["scale"] = std.Mean, std.Scale
	}
	if err := writeJSON(filepath.Join(dir, "head.json"), head); err != nil {
		return err
	}
	if err := writePredictions(filepath.Join(dir, "predictions.csv"), te, fs, yte, pred, scores, classes); err != nil {
		return err
	}
	// Plots.
	var xs, ys []float64
	for _, p := range sweep {
		xs, ys = append(xs, p.C), append(ys, p.ValAcc)
	}
	figs := []string{"sweep.png", "confusion.png", "pca.png"}
	if err := plots.Lines(filepath.Join(dir, "sweep.png"), "validation accuracy vs C (chosen "+strconv.FormatFloat(bestC, 'g', 4, 64)+")",
		"C (inverse regularization)", "validation top-1", true, plots.Series{Name: "logreg", X: xs, Y: ys}); err != nil {
		return err
	}
	if err := confusionPlot(filepath.Join(dir, "confusion.png"), m.Metrics); err != nil {
		return err
	}
	if err := pcaPlot(filepath.Join(dir, "pca.png"), fs.X, y, classes, strings.Join(u.layers, "+")); err != nil {
		return err
	}
	return writeReport(dir, u, []string{
		fmt.Sprintf("| metric | value |\n|---|---|\n| test top-1 (%s) | %.4f |\n| test top-5 | %.4f |\n| mean per-class accuracy | %.4f |\n| logreg top-1 | %.4f |\n| chosen C | %.4g |\n| knn top-1 (k=%d) | %.4f |\n| rows train/val/test | %d/%d/%d |\n| feature dims | %d |",
			c.Probe.Method, m.Top1, m.Top5, m.MeanPerClassAcc, m.LogReg.Top1, bestC, c.Probe.K, m.KNN.Top1, len(tr), len(va), len(te), m.FeatureDim),
		perClassTable(m.Metrics),
	}, figs)
}

func perClassTable(m probe.Metrics) string {
	var b strings.Builder
	b.WriteString("| class | support | precision | recall | F1 |\n|---|---|---|---|---|\n")
	for _, c := range m.PerClass {
		fmt.Fprintf(&b, "| %s | %d | %.3f | %.3f | %.3f |\n", c.Class, c.Support, c.Precision, c.Recall, c.F1)
	}
	return b.String()
}

func confusionPlot(path string, m probe.Metrics) error {
	z := make([][]float64, len(m.Confusion))
	for i, row := range m.Confusion {
		z[i] = make([]float64, len(row))
		for j, v := range row {
			z[i][j] = float64(v)
		}
	}
	return plots.Heatmap(path, "confusion matrix (test)", "predicted", "true", m.ConfusionClasses, m.ConfusionClasses, z, "%.0f")
}

func pcaPlot(path string, x *mat.Dense, y []int, classes []string, what string) error {
	n, _ := x.Dims()
	idx := make([]int, 0, n)
	step := max(1, n/2000)
	for i := 0; i < n; i += step {
		idx = append(idx, i)
	}
	sub := probe.Rows(x, idx)
	p, err := probe.PCA2(sub)
	if err != nil {
		return err
	}
	xs, ys, cs := make([]float64, len(idx)), make([]float64, len(idx)), make([]int, len(idx))
	for i, j := range idx {
		xs[i], ys[i], cs[i] = p.At(i, 0), p.At(i, 1), y[j]
	}
	return plots.Scatter(path, "PCA of "+what+" features by class", "PC 1", "PC 2", xs, ys, cs, classes)
}

func writePredictions(path string, rows []int, fs *featSet, y, pred []int, scores *mat.Dense, classes []string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	w.Write([]string{"path", "label", "class", "prediction", "predicted_class", "score"})
	for i, r := range rows {
		w.Write([]string{fs.Paths[r], strconv.Itoa(y[i]), classes[y[i]], strconv.Itoa(pred[i]), classes[pred[i]],
			strconv.FormatFloat(scores.At(i, pred[i]), 'g', 6, 64)})
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writeReport writes report.md: the config, tables and figures.
func writeReport(dir string, u *unit, tables, figs []string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "# %s: %s\n\n", u.cfg.Name, u.cfg.Kind)
	if len(u.settings) > 0 {
		fmt.Fprintf(&b, "Trial %d: %s\n\n", u.index+1, describeSettings(u.settings))
	}
	fmt.Fprintf(&b, "Model %s (arch %s, plugin %s), transform %s; data %s.\n\n", u.model.label(), u.model.flags.Arch,
		u.model.res.Plugin, u.model.spec.Pre, u.cfg.Data.Path)
	for _, t := range tables {
		b.WriteString(t + "\n\n")
	}
	for _, f := range figs {
		fmt.Fprintf(&b, "![%s](%s)\n\n", strings.TrimSuffix(f, ".png"), f)
	}
	b.WriteString("Rerun with `gozoo run " + resolvedName + "` in this folder; provenance.json records versions and checksums.\n")
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(b.String()), 0o644)
}

func (r *runner) runExtractUnit(ctx context.Context, dir string, u *unit) error {
	out := filepath.Join(dir, "features.npz")
	start := time.Now()
	if err := r.extractTo(ctx, u, u.layers, out); err != nil {
		return err
	}
	secs := time.Since(start).Seconds()
	ff, err := featfile.Load(out, u.layers...)
	if err != nil {
		return err
	}
	shapes := map[string][]int64{}
	for l, t := range ff.Layers {
		shapes[l] = t.Shape
	}
	m := map[string]any{"kind": "extract", "model": u.model.label(), "rows": len(ff.Paths), "layers": u.layers,
		"shapes": shapes, "classes": ff.Classes, "features": out, "timings_s": map[string]float64{"extract": secs},
		"rows_per_s": float64(len(ff.Paths)) / secs}
	if err := writeJSON(filepath.Join(dir, metricsName), m); err != nil {
		return err
	}
	var figs []string
	if len(ff.Paths) >= 3 {
		t := ff.Layers[u.layers[0]]
		n := int(t.Shape[0])
		d := len(t.Float32) / n
		x := mat.NewDense(n, d, nil)
		for i := 0; i < n; i++ {
			for j := 0; j < d; j++ {
				x.Set(i, j, float64(t.Float32[i*d+j]))
			}
		}
		y := make([]int, n)
		names := []string{"unlabelled"}
		if len(ff.Classes) > 0 {
			names = ff.Classes
			for i, l := range ff.Labels {
				y[i] = int(max(l, 0))
			}
		}
		if err := pcaPlot(filepath.Join(dir, "pca.png"), x, y, names, u.layers[0]); err != nil {
			return err
		}
		figs = append(figs, "pca.png")
	}
	return writeReport(dir, u, []string{fmt.Sprintf("| rows | layers | seconds |\n|---|---|---|\n| %d | %s | %.2f |\n\nFeatures: features.npz", len(ff.Paths), strings.Join(u.layers, ", "), secs)}, figs)
}

func (r *runner) runFinetuneUnit(ctx context.Context, dir string, u *unit) error {
	c := u.cfg
	ft := c.Finetune
	out := filepath.Join(dir, "finetune")
	// The config becomes gozoo finetune's flags, so that every default
	// the config leaves open is the command's own.
	args := []string{"--data", c.Data.Path, "--out", out, "--val-split", fmt.Sprint(c.Data.Val),
		"--epochs", fmt.Sprint(ft.Epochs), "--batch-size", fmt.Sprint(ft.BatchSize), "--optimizer", ft.Optimizer,
		"--lr", fmt.Sprint(ft.LR), "--backbone-lr", fmt.Sprint(ft.BackboneLR), "--momentum", fmt.Sprint(ft.Momentum),
		"--weight-decay", fmt.Sprint(ft.WeightDecay), "--schedule", ft.Schedule, "--augment", ft.Augment,
		"--device", c.Device, "--threads", fmt.Sprint(c.Threads), "--seed", fmt.Sprint(c.Seed), "--plugin", u.model.flags.Plugin}
	if c.Model.Name != "" {
		args = append(args, "--model", c.Model.Name)
	} else {
		args = append(args, "--arch", c.Model.Arch)
		if c.Model.Weights != "" {
			args = append(args, "--weights", c.Model.Weights)
		}
	}
	for _, o := range optionStrings(c.Model.Options) {
		args = append(args, "--opt", o)
	}
	for _, p := range ft.Freeze {
		args = append(args, "--freeze", p)
	}
	for _, p := range ft.Unfreeze {
		args = append(args, "--unfreeze", p)
	}
	if len(ft.InputSize) > 0 {
		args = append(args, "--input-size", joinInts(ft.InputSize))
	}
	if c.Model.Resize > 0 {
		args = append(args, "--resize", fmt.Sprint(c.Model.Resize))
	}
	if len(c.Model.Crop) > 0 {
		args = append(args, "--crop", joinInts(c.Model.Crop))
	}
	fmt.Fprintf(r.f.Err, "finetune: gozoo finetune %s\n", strings.Join(args, " "))
	cmd := NewCmdFinetune(r.f, nil)
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	cmd.SetArgs(args)
	cmd.SetOut(r.f.Out)
	cmd.SetErr(r.f.Err)
	if err := cmd.ExecuteContext(ctx); err != nil {
		return err
	}
	fo := struct{ Out string }{out}
	b, err := os.ReadFile(filepath.Join(fo.Out, "metrics.json"))
	if err != nil {
		return err
	}
	var res FinetuneResult
	if err := json.Unmarshal(b, &res); err != nil {
		return fmt.Errorf("finetune metrics: %w", err)
	}
	if len(res.Epochs) == 0 {
		return fmt.Errorf("finetune wrote no epochs to %s", fo.Out)
	}
	last := res.Epochs[len(res.Epochs)-1]
	bestAcc := 0.0
	var ep, tl, vl, ta, va []float64
	for _, e := range res.Epochs {
		ep = append(ep, float64(e.Epoch))
		tl, vl, ta, va = append(tl, e.TrainLoss), append(vl, e.ValLoss), append(ta, e.TrainAcc), append(va, e.ValAcc)
		bestAcc = math.Max(bestAcc, e.ValAcc)
	}
	m := map[string]any{"kind": "finetune", "model": u.model.label(), "top1": last.ValAcc, "best_val_top1": bestAcc,
		"trainable_params": u.trainable, "epochs": res.Epochs, "classes": res.Classes, "checkpoint": res.Checkpoint}
	if err := writeJSON(filepath.Join(dir, metricsName), m); err != nil {
		return err
	}
	if err := plots.Lines(filepath.Join(dir, "loss.png"), "loss", "epoch", "cross-entropy", false,
		plots.Series{Name: "train", X: ep, Y: tl}, plots.Series{Name: "validation", X: ep, Y: vl}); err != nil {
		return err
	}
	if err := plots.Lines(filepath.Join(dir, "accuracy.png"), "accuracy", "epoch", "top-1", false,
		plots.Series{Name: "train", X: ep, Y: ta}, plots.Series{Name: "validation", X: ep, Y: va}); err != nil {
		return err
	}
	return writeReport(dir, u, []string{fmt.Sprintf("| metric | value |\n|---|---|\n| final validation top-1 | %.4f |\n| best validation top-1 | %.4f |\n| epochs | %d |\n| trainable parameter tensors | %d |\n\nCheckpoints: finetune/",
		last.ValAcc, bestAcc, len(res.Epochs), u.trainable)}, []string{"loss.png", "accuracy.png"})
}

// runCompare runs every trial into dir/trials/NNN, skipping finished
// ones, then writes the leaderboard and its plot.
func (r *runner) runCompare(ctx context.Context, dir string, plan []*unit) error {
	if err := r.ensureFeatures(ctx, plan); err != nil {
		return err
	}
	for i, u := range plan {
		tdir := filepath.Join(dir, "trials", fmt.Sprintf("%03d", i+1))
		if readStatus(tdir).Status == "finished" {
			fmt.Fprintf(r.f.Err, "trial %d/%d %s: finished earlier, skipped\n", i+1, len(plan), describeSettings(u.settings))
			continue
		}
		if err := os.MkdirAll(tdir, 0o755); err != nil {
			return err
		}
		if err := r.runTrial(ctx, tdir, u); err != nil {
			return fmt.Errorf("trial %d %s: %w", i+1, describeSettings(u.settings), err)
		}
		fmt.Fprintf(r.f.Err, "trial %d/%d %s: finished\n", i+1, len(plan), describeSettings(u.settings))
	}
	return r.writeLeaderboard(dir, plan)
}

// runTrial runs one trial as a full run folder: its configs (the
// trial's settings are its overrides), the sweep's provenance, its own
// log and status.
func (r *runner) runTrial(ctx context.Context, tdir string, u *unit) (err error) {
	b, err := config.Marshal(&u.cfg.Experiment)
	if err != nil {
		return err
	}
	var sets strings.Builder
	for _, s := range u.settings {
		v, _ := json.Marshal(s.Value)
		fmt.Fprintf(&sets, "%s=%s\n", s.Key, v)
	}
	prov, err := os.ReadFile(filepath.Join(filepath.Dir(filepath.Dir(tdir)), "provenance.json"))
	if err != nil {
		return err
	}
	for name, data := range map[string][]byte{resolvedName: b, givenName: b, overridesName: []byte(sets.String()), "provenance.json": prov} {
		if err := os.WriteFile(filepath.Join(tdir, name), data, 0o644); err != nil {
			return err
		}
	}
	logf, err := os.OpenFile(filepath.Join(tdir, logName), os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	defer logf.Close()
	parentErr := r.f.Err
	r.f.Err = io.MultiWriter(parentErr, logf)
	defer func() { r.f.Err = parentErr }()
	st := status{Status: "running", Started: time.Now().UTC()}
	if err := writeJSON(filepath.Join(tdir, statusName), st); err != nil {
		return err
	}
	err = r.runUnit(ctx, tdir, u)
	st.Finished = time.Now().UTC()
	switch {
	case err == nil:
		st.Status = "finished"
	case ctx.Err() != nil:
		st.Status, st.Error = "interrupted", err.Error()
	default:
		st.Status, st.Error = "failed", err.Error()
	}
	if werr := writeJSON(filepath.Join(tdir, statusName), st); err == nil {
		err = werr
	}
	return err
}

type trialRow struct {
	u                *unit
	top1, top5, mpca float64
	c                float64
	knn              float64
}

func (r *runner) writeLeaderboard(dir string, plan []*unit) error {
	var rows []trialRow
	for i, u := range plan {
		b, err := os.ReadFile(filepath.Join(dir, "trials", fmt.Sprintf("%03d", i+1), metricsName))
		if err != nil {
			return err
		}
		var m struct {
			Top1   float64 `json:"top1"`
			Top5   float64 `json:"top5"`
			MPCA   float64 `json:"mean_per_class_accuracy"`
			LogReg struct {
				C float64 `json:"c"`
			} `json:"logreg"`
			KNN struct {
				Top1 float64 `json:"top1"`
			} `json:"knn"`
		}
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		rows = append(rows, trialRow{u: u, top1: m.Top1, top5: m.Top5, mpca: m.MPCA, c: m.LogReg.C, knn: m.KNN.Top1})
	}
	ranked := append([]trialRow(nil), rows...)
	sort.SliceStable(ranked, func(i, j int) bool { return ranked[i].top1 > ranked[j].top1 })
	f, err := os.Create(filepath.Join(dir, "leaderboard.csv"))
	if err != nil {
		return err
	}
	w := csv.NewWriter(f)
	head := []string{"rank", "trial"}
	for _, ax := range r.root.Compare.Grid {
		head = append(head, ax.Key)
	}
	head = append(head, "top1", "top5", "mean_per_class_accuracy", "c", "knn_top1")
	w.Write(head)
	var md strings.Builder
	md.WriteString("| " + strings.Join(head, " | ") + " |\n|" + strings.Repeat("---|", len(head)) + "\n")
	for rank, tr := range ranked {
		rec := []string{strconv.Itoa(rank + 1), fmt.Sprintf("%03d", tr.u.index+1)}
		for _, s := range tr.u.settings {
			rec = append(rec, valueString(s.Value))
		}
		rec = append(rec, f4(tr.top1), f4(tr.top5), f4(tr.mpca), strconv.FormatFloat(tr.c, 'g', 5, 64), f4(tr.knn))
		w.Write(rec)
		md.WriteString("| " + strings.Join(rec, " | ") + " |\n")
	}
	w.Flush()
	if err := w.Error(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	grid := r.root.Compare.Grid
	if len(grid) == 2 {
		z := make([][]float64, len(grid[0].Values))
		for i := range z {
			z[i] = make([]float64, len(grid[1].Values))
		}
		for _, tr := range rows {
			z[tr.u.settings[0].Index][tr.u.settings[1].Index] = tr.top1
		}
		err = plots.Heatmap(filepath.Join(dir, "compare.png"), "test top-1", grid[1].Key, grid[0].Key,
			valueStrings(grid[0].Values), valueStrings(grid[1].Values), z, "%.3f")
	} else {
		var names []string
		var vals []float64
		for _, tr := range rows {
			var parts []string
			for _, s := range tr.u.settings {
				parts = append(parts, valueString(s.Value))
			}
			names = append(names, strings.Join(parts, " "))
			vals = append(vals, tr.top1)
		}
		err = plots.Bars(filepath.Join(dir, "compare.png"), "test top-1 by trial", "top-1", names, vals)
	}
	if err != nil {
		return err
	}
	best := ranked[0]
	lb := make([]map[string]any, len(ranked))
	for i, tr := range ranked {
		settings := map[string]any{}
		for _, s := range tr.u.settings {
			settings[s.Key] = s.Value
		}
		lb[i] = map[string]any{"rank": i + 1, "trial": tr.u.index + 1, "settings": settings, "top1": tr.top1,
			"top5": tr.top5, "mean_per_class_accuracy": tr.mpca, "c": tr.c, "knn_top1": tr.knn}
	}
	if err := writeJSON(filepath.Join(dir, metricsName), map[string]any{"kind": "compare", "trial_kind": r.root.Compare.Trial,
		"trials": len(plan), "best_trial": best.u.index + 1, "top1": best.top1, "leaderboard": lb}); err != nil {
		return err
	}
	fmt.Fprintf(r.f.Err, "best trial %03d %s: top-1 %.4f (leaderboard.csv)\n", best.u.index+1, describeSettings(best.u.settings), best.top1)
	rep := fmt.Sprintf("# %s: compare (%d trials of %s)\n\nBest: trial %03d %s, test top-1 %.4f.\n\n%s\n![compare](compare.png)\n\nEach trial's run folder is trials/NNN (report.md, metrics.json, plots).\n",
		r.root.Name, len(plan), r.root.Compare.Trial, best.u.index+1, describeSettings(best.u.settings), best.top1, md.String())
	return os.WriteFile(filepath.Join(dir, "report.md"), []byte(rep), 0o644)
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ",")
}

func f4(v float64) string { return strconv.FormatFloat(v, 'f', 4, 64) }

func valueString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, valueString(e))
		}
		return strings.Join(parts, "+")
	}
	return fmt.Sprint(v)
}

func valueStrings(vs []any) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = valueString(v)
	}
	return out
}
