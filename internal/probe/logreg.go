package probe

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"

	"gonum.org/v1/gonum/mat"
	"gonum.org/v1/gonum/optimize"
)

// LogReg is a trained multinomial logistic regression: scores are
// X·W + B, W [D, K].
type LogReg struct {
	D, K int
	W    []float64 // [D*K], row-major
	B    []float64 // [K]
	// C is the inverse regularization it was trained with; Iterations
	// and Status report the solver.
	C          float64
	Iterations int
	Status     string
}

// FitLogReg minimizes scikit-learn's objective for
// LogisticRegression(C=c, multinomial, lbfgs): 0.5·|W|² + c·Σ
// cross-entropy, the intercept unpenalized, divided by c·n for
// conditioning. init, when not nil, warm-starts the solver.
func FitLogReg(ctx context.Context, x *mat.Dense, y []int, k int, c float64, maxIter int, init *LogReg) (*LogReg, error) {
	n, d := x.Dims()
	if n != len(y) || n == 0 {
		return nil, fmt.Errorf("probe: %d rows and %d labels", n, len(y))
	}
	if c <= 0 {
		return nil, fmt.Errorf("probe: C %g must be positive", c)
	}
	for _, l := range y {
		if l < 0 || l >= k {
			return nil, fmt.Errorf("probe: label %d outside 0..%d", l, k-1)
		}
	}
	np := d*k + k
	theta := make([]float64, np)
	if init != nil && init.D == d && init.K == k {
		copy(theta, init.W)
		copy(theta[d*k:], init.B)
	}
	logits := mat.NewDense(n, k, nil)
	lam := 1 / (c * float64(n))
	var lastX []float64
	var lastF float64
	lastG := make([]float64, np)
	eval := func(th []float64) {
		if lastX != nil && slices.Equal(th, lastX) {
			return
		}
		w := mat.NewDense(d, k, th[:d*k])
		logits.Mul(x, w)
		g := lastG
		clear(g)
		gw := mat.NewDense(d, k, g[:d*k])
		gb := g[d*k:]
		resid := mat.NewDense(n, k, nil)
		f := 0.0
		for i := 0; i < n; i++ {
			row := logits.RawRowView(i)
			m := math.Inf(-1)
			for j := range row {
				row[j] += th[d*k+j]
				m = max(m, row[j])
			}
			s := 0.0
			for _, v := range row {
				s += math.Exp(v - m)
			}
			lse := m + math.Log(s)
			f += lse - row[y[i]]
			r := resid.RawRowView(i)
			for j, v := range row {
				r[j] = math.Exp(v - lse)
			}
			r[y[i]] -= 1
		}
		inv := 1 / float64(n)
		gw.Mul(x.T(), resid)
		gw.Scale(inv, gw)
		for i := 0; i < n; i++ {
			r := resid.RawRowView(i)
			for j := range r {
				gb[j] += r[j] * inv
			}
		}
		f *= inv
		reg := 0.0
		for i, v := range th[:d*k] {
			reg += v * v
			g[i] += lam * v
		}
		f += 0.5 * lam * reg
		lastX = append(lastX[:0], th...)
		lastF = f
	}
	p := optimize.Problem{
		Func: func(th []float64) float64 { eval(th); return lastF },
		Grad: func(grad, th []float64) { eval(th); copy(grad, lastG) },
	}
	settings := &optimize.Settings{
		GradientThreshold: 1e-7,
		MajorIterations:   maxIter,
		Converger:         &optimize.FunctionConverge{Absolute: 1e-12, Relative: 1e-10, Iterations: 20},
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	res, err := optimize.Minimize(p, theta, settings, &optimize.LBFGS{Store: 20})
	if res == nil {
		return nil, fmt.Errorf("probe: L-BFGS: %w", err)
	}
	if err != nil && !errors.Is(err, optimize.ErrLinesearcherFailure) && res.Status != optimize.IterationLimit {
		return nil, fmt.Errorf("probe: L-BFGS at C=%g: %w", c, err)
	}
	out := &LogReg{D: d, K: k, C: c, W: slices.Clone(res.X[:d*k]), B: slices.Clone(res.X[d*k:]),
		Iterations: res.Stats.MajorIterations, Status: res.Status.String()}
	return out, nil
}

// Scores returns class probabilities [n, K] for x.
func (m *LogReg) Scores(x *mat.Dense) *mat.Dense {
	n, _ := x.Dims()
	out := mat.NewDense(n, m.K, nil)
	out.Mul(x, mat.NewDense(m.D, m.K, m.W))
	for i := 0; i < n; i++ {
		row := out.RawRowView(i)
		mx := math.Inf(-1)
		for j := range row {
			row[j] += m.B[j]
			mx = max(mx, row[j])
		}
		s := 0.0
		for j := range row {
			row[j] = math.Exp(row[j] - mx)
			s += row[j]
		}
		for j := range row {
			row[j] /= s
		}
	}
	return out
}

// SweepPoint is the validation accuracy at one C.
type SweepPoint struct {
	C      float64 `json:"c"`
	ValAcc float64 `json:"val_accuracy"`
	Phase  string  `json:"phase"` // "grid" or "refine"
}

// SweepConfig spans the regularization sweep.
type SweepConfig struct {
	CMin, CMax    float64
	Steps, Refine int
	MaxIter       int
}

// Grid returns steps values log-spaced from lo to hi.
func Grid(lo, hi float64, steps int) []float64 {
	out := make([]float64, steps)
	a, b := math.Log10(lo), math.Log10(hi)
	for i := range out {
		out[i] = math.Pow(10, a+(b-a)*float64(i)/float64(steps-1))
	}
	return out
}

// Sweep trains on (xt, yt) at every C of the grid, scores each on
// (xv, yv), then tries cfg.Refine values log-spaced between the best
// value's neighbours. It returns every point tried, sorted by C, and the
// best C (the smallest C among the best validation accuracies).
func Sweep(ctx context.Context, xt *mat.Dense, yt []int, xv *mat.Dense, yv []int, k int, cfg SweepConfig) ([]SweepPoint, float64, error) {
	var pts []SweepPoint
	var prev *LogReg
	try := func(cs []float64, phase string) error {
		for _, c := range cs {
			if err := ctx.Err(); err != nil {
				return err
			}
			m, err := FitLogReg(ctx, xt, yt, k, c, cfg.MaxIter, prev)
			if err != nil {
				return err
			}
			prev = m
			pts = append(pts, SweepPoint{C: c, ValAcc: Accuracy(Argmax(m.Scores(xv)), yv), Phase: phase})
		}
		return nil
	}
	grid := Grid(cfg.CMin, cfg.CMax, cfg.Steps)
	if err := try(grid, "grid"); err != nil {
		return nil, 0, err
	}
	b := best(pts)
	lo, hi := grid[max(b-1, 0)], grid[min(b+1, len(grid)-1)]
	if cfg.Refine > 0 {
		var fine []float64
		for _, c := range Grid(lo, hi, cfg.Refine+2) {
			if !slices.ContainsFunc(pts, func(p SweepPoint) bool { return math.Abs(p.C-c) <= 1e-12*c }) {
				fine = append(fine, c)
			}
		}
		if err := try(fine, "refine"); err != nil {
			return nil, 0, err
		}
	}
	sort.SliceStable(pts, func(i, j int) bool { return pts[i].C < pts[j].C })
	return pts, pts[best(pts)].C, nil
}

// best is the index of the first highest validation accuracy.
func best(pts []SweepPoint) int {
	b := 0
	for i, p := range pts {
		if p.ValAcc > pts[b].ValAcc {
			b = i
		}
	}
	return b
}
