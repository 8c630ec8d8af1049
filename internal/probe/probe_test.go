package probe

import (
	"context"
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

// blobs returns n rows of d features around k class centres.
func blobs(n, d, k int, spread float64, seed uint64) (*mat.Dense, []int) {
	r := rand.New(rand.NewPCG(seed, 1))
	centres := make([][]float64, k)
	for c := range centres {
		centres[c] = make([]float64, d)
		for j := range centres[c] {
			centres[c][j] = r.NormFloat64() * 2
		}
	}
	x := mat.NewDense(n, d, nil)
	y := make([]int, n)
	for i := 0; i < n; i++ {
		y[i] = i % k
		for j := 0; j < d; j++ {
			x.Set(i, j, centres[y[i]][j]+spread*r.NormFloat64())
		}
	}
	return x, y
}

func TestLogRegGradientAtOptimum(t *testing.T) {
	x, y := blobs(120, 5, 3, 1.5, 7)
	const c = 0.5
	m, err := FitLogReg(context.Background(), x, y, 3, c, 500, nil)
	if err != nil {
		t.Fatal(err)
	}
	// At the optimum of 0.5|W|² + C·ΣCE the gradient is zero: check
	// by central differences of the objective.
	obj := func(w, b []float64) float64 {
		mm := &LogReg{D: 5, K: 3, W: w, B: b}
		s := mm.Scores(x)
		f := 0.0
		for i, l := range y {
			f -= math.Log(s.At(i, l))
		}
		reg := 0.0
		for _, v := range w {
			reg += v * v
		}
		return 0.5*reg + c*f
	}
	const h = 1e-5
	for i := range m.W {
		w1 := append([]float64(nil), m.W...)
		w2 := append([]float64(nil), m.W...)
		w1[i] += h
		w2[i] -= h
		g := (obj(w1, m.B) - obj(w2, m.B)) / (2 * h)
		if math.Abs(g) > 1e-3 {
			t.Errorf("dObj/dW[%d] = %g at the solution; want ~0 (status %s, %d iterations)", i, g, m.Status, m.Iterations)
		}
	}
	if acc := Accuracy(Argmax(m.Scores(x)), y); acc < 0.8 {
		t.Errorf("train accuracy %g; want >= 0.8 on well-separated blobs", acc)
	}
}

func TestSweepPicksAndRefines(t *testing.T) {
	x, y := blobs(300, 8, 4, 3, 3)
	tr, va, _ := Split(y, 0.3, 0, 1)
	pick := func(idx []int) []int {
		out := make([]int, len(idx))
		for i, j := range idx {
			out[i] = y[j]
		}
		return out
	}
	pts, best, err := Sweep(context.Background(), Rows(x, tr), pick(tr), Rows(x, va), pick(va), 4,
		SweepConfig{CMin: 1e-4, CMax: 1e2, Steps: 4, Refine: 3, MaxIter: 300})
	if err != nil {
		t.Fatal(err)
	}
	if len(pts) < 5 {
		t.Errorf("Sweep tried %d values; want the 4 of the grid and refinements", len(pts))
	}
	top := 0.0
	for i, p := range pts {
		top = max(top, p.ValAcc)
		if i > 0 && p.C <= pts[i-1].C {
			t.Errorf("points not sorted by C: %v", pts)
		}
	}
	for _, p := range pts {
		if p.C == best && p.ValAcc != top {
			t.Errorf("best C %g has val accuracy %g; the top is %g", best, p.ValAcc, top)
		}
	}
}

func TestKNN(t *testing.T) {
	train := mat.NewDense(4, 2, []float64{1, 0, 0.9, 0.1, 0, 1, 0.1, 0.9})
	ytr := []int{0, 0, 1, 1}
	test := mat.NewDense(3, 2, []float64{2, 0.1, 0.05, 3, 1, 1})
	pred, scores := KNN(train, ytr, test, 1, 2)
	want := []int{0, 1, 0} // (1,1) ties: 0.9,0.1 and 0.1,0.9 are equally near; the earlier row wins
	for i := range want {
		if pred[i] != want[i] {
			t.Errorf("KNN pred[%d] = %d; want %d", i, pred[i], want[i])
		}
	}
	if scores.At(1, 1) != 1 {
		t.Errorf("vote share = %g; want 1", scores.At(1, 1))
	}
	pred, _ = KNN(train, ytr, test, 4, 2) // 2-2 votes: the smaller class
	if pred[0] != 0 || pred[1] != 0 {
		t.Errorf("tied votes = %v; want class 0", pred)
	}
}

func TestSplitAndSubsample(t *testing.T) {
	y := make([]int, 100)
	for i := range y {
		y[i] = i % 4
	}
	tr, va, te := Split(y, 0.2, 0.2, 5)
	if len(tr) != 60 || len(va) != 20 || len(te) != 20 {
		t.Fatalf("Split = %d/%d/%d; want 60/20/20", len(tr), len(va), len(te))
	}
	seen := map[int]bool{}
	for _, s := range [][]int{tr, va, te} {
		for _, i := range s {
			if seen[i] {
				t.Fatalf("row %d in two splits", i)
			}
			seen[i] = true
		}
	}
	tr2, _, _ := Split(y, 0.2, 0.2, 5)
	for i := range tr {
		if tr[i] != tr2[i] {
			t.Fatal("Split with the same seed differs")
		}
	}
	sub := Subsample(y, 40, 1)
	count := map[int]int{}
	for _, i := range sub {
		count[y[i]]++
	}
	if len(sub) != 40 || count[0] != 10 || count[3] != 10 {
		t.Errorf("Subsample(40) = %d rows, per class %v; want 40, 10 each", len(sub), count)
	}
}

func TestScore(t *testing.T) {
	scores := mat.NewDense(4, 3, []float64{
		0.7, 0.2, 0.1,
		0.1, 0.8, 0.1,
		0.5, 0.4, 0.1,
		0.1, 0.2, 0.7,
	})
	y := []int{0, 1, 1, 0}
	m := Score(scores, Argmax(scores), y, []string{"a", "b", "c"})
	if m.Top1 != 0.5 || m.Top5 != 1 {
		t.Errorf("top1 %g top5 %g; want 0.5, 1", m.Top1, m.Top5)
	}
	if m.Confusion[1][0] != 1 || m.Confusion[0][2] != 1 {
		t.Errorf("confusion = %v", m.Confusion)
	}
	if a := m.PerClass[0]; a.Precision != 0.5 || a.Recall != 0.5 || a.F1 != 0.5 {
		t.Errorf("class a = %+v; want P=R=F1=0.5", a)
	}
	if m.MeanPerClassAcc != 0.5 {
		t.Errorf("mean per-class = %g; want 0.5 (c has no support)", m.MeanPerClassAcc)
	}
}

func TestPCA2(t *testing.T) {
	x := mat.NewDense(4, 3, []float64{0, 0, 1, 10, 0, 1, 0, 1, 1, 10, 1, 1})
	p, err := PCA2(x)
	if err != nil {
		t.Fatal(err)
	}
	// The first component is the x axis (variance 33), the second y.
	if d := math.Abs(p.At(1, 0) - p.At(0, 0)); math.Abs(d-10) > 1e-9 {
		t.Errorf("PC1 spread = %g; want 10", d)
	}
	if d := math.Abs(p.At(2, 1) - p.At(0, 1)); math.Abs(d-1) > 1e-9 {
		t.Errorf("PC2 spread = %g; want 1", d)
	}
}
