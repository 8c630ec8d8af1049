package probe

import (
	"math"
	"math/rand/v2"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// Argmax returns each row's index of the highest score (the first on ties).
func Argmax(s *mat.Dense) []int {
	n, _ := s.Dims()
	out := make([]int, n)
	for i := range out {
		row := s.RawRowView(i)
		for j, v := range row {
			if v > row[out[i]] {
				out[i] = j
			}
		}
	}
	return out
}

// Accuracy is the share of pred equal to y.
func Accuracy(pred, y []int) float64 {
	if len(y) == 0 {
		return 0
	}
	ok := 0
	for i := range y {
		if pred[i] == y[i] {
			ok++
		}
	}
	return float64(ok) / float64(len(y))
}

// ClassMetrics are one class's scores on a test set.
type ClassMetrics struct {
	Class     string  `json:"class"`
	Support   int     `json:"support"`
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
}

// Metrics summarizes predictions on a test set.
type Metrics struct {
	N                int            `json:"n"`
	Top1             float64        `json:"top1"`
	Top5             float64        `json:"top5"`
	MeanPerClassAcc  float64        `json:"mean_per_class_accuracy"`
	PerClass         []ClassMetrics `json:"per_class"`
	Confusion        [][]int        `json:"confusion"` // [true][predicted]
	ConfusionClasses []string       `json:"confusion_classes"`
}

// Score computes Metrics from scores [n, K] (higher is better), their
// argmax pred, true labels y and class names.
func Score(scores *mat.Dense, pred, y []int, classes []string) Metrics {
	k := len(classes)
	m := Metrics{N: len(y), Top1: Accuracy(pred, y), ConfusionClasses: classes}
	m.Confusion = make([][]int, k)
	for i := range m.Confusion {
		m.Confusion[i] = make([]int, k)
	}
	top5 := 0
	for i, t := range y {
		m.Confusion[t][pred[i]]++
		row := scores.RawRowView(i)
		higher := 0
		for j, v := range row {
			if j != t && (v > row[t] || (v == row[t] && j < t)) {
				higher++
			}
		}
		if higher < 5 {
			top5++
		}
	}
	if len(y) > 0 {
		m.Top5 = float64(top5) / float64(len(y))
	}
	present := 0
	for c := 0; c < k; c++ {
		tp, support, predicted := m.Confusion[c][c], 0, 0
		for j := 0; j < k; j++ {
			support += m.Confusion[c][j]
			predicted += m.Confusion[j][c]
		}
		cm := ClassMetrics{Class: classes[c], Support: support}
		if predicted > 0 {
			cm.Precision = float64(tp) / float64(predicted)
		}
		if support > 0 {
			cm.Recall = float64(tp) / float64(support)
			m.MeanPerClassAcc += cm.Recall
			present++
		}
		if cm.Precision+cm.Recall > 0 {
			cm.F1 = 2 * cm.Precision * cm.Recall / (cm.Precision + cm.Recall)
		}
		m.PerClass = append(m.PerClass, cm)
	}
	if present > 0 {
		m.MeanPerClassAcc /= float64(present)
	}
	return m
}

// Split returns row indices of a seeded split stratified by label: per
// class, round(val·n) rows to validation, round(test·n) to test, the rest
// to training (at least one row when the class has any).
func Split(labels []int, val, test float64, seed int64) (train, valid, tst []int) {
	for _, rows := range byClass(labels, seed) {
		n := len(rows)
		nv := int(math.Round(val * float64(n)))
		nt := int(math.Round(test * float64(n)))
		for nv+nt >= n && nv+nt > 0 {
			if nt >= nv {
				nt--
			} else {
				nv--
			}
		}
		valid = append(valid, rows[:nv]...)
		tst = append(tst, rows[nv:nv+nt]...)
		train = append(train, rows[nv+nt:]...)
	}
	sort.Ints(train)
	sort.Ints(valid)
	sort.Ints(tst)
	return train, valid, tst
}

// Subsample returns at most limit row indices, a seeded sample stratified
// by label (each class keeps its share), in row order.
func Subsample(labels []int, limit int, seed int64) []int {
	if limit <= 0 || limit >= len(labels) {
		out := make([]int, len(labels))
		for i := range out {
			out[i] = i
		}
		return out
	}
	var out []int
	classes := byClass(labels, seed)
	left := limit
	for i, rows := range classes {
		share := int(math.Round(float64(limit) * float64(len(rows)) / float64(len(labels))))
		if i == len(classes)-1 {
			share = left
		}
		share = max(0, min(share, len(rows), left))
		out = append(out, rows[:share]...)
		left -= share
	}
	sort.Ints(out)
	return out
}

// byClass groups row indices by label (in label order), each group
// shuffled with seed.
func byClass(labels []int, seed int64) [][]int {
	groups := map[int][]int{}
	var keys []int
	for i, l := range labels {
		if _, ok := groups[l]; !ok {
			keys = append(keys, l)
		}
		groups[l] = append(groups[l], i)
	}
	sort.Ints(keys)
	r := rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
	out := make([][]int, 0, len(keys))
	for _, k := range keys {
		g := groups[k]
		r.Shuffle(len(g), func(i, j int) { g[i], g[j] = g[j], g[i] })
		out = append(out, g)
	}
	return out
}

// Standardizer scales features to zero mean and unit variance with
// statistics of the rows it was fitted on (a constant feature keeps scale
// 1, as scikit-learn's StandardScaler does).
type Standardizer struct {
	Mean, Scale []float64
}

// FitStandardizer computes x's column means and standard deviations.
func FitStandardizer(x *mat.Dense) *Standardizer {
	n, d := x.Dims()
	s := &Standardizer{Mean: make([]float64, d), Scale: make([]float64, d)}
	for i := 0; i < n; i++ {
		for j, v := range x.RawRowView(i) {
			s.Mean[j] += v
		}
	}
	for j := range s.Mean {
		s.Mean[j] /= float64(n)
	}
	for i := 0; i < n; i++ {
		for j, v := range x.RawRowView(i) {
			dv := v - s.Mean[j]
			s.Scale[j] += dv * dv
		}
	}
	for j := range s.Scale {
		s.Scale[j] = math.Sqrt(s.Scale[j] / float64(n))
		if s.Scale[j] < 10*math.SmallestNonzeroFloat64 || s.Scale[j] == 0 {
			s.Scale[j] = 1
		}
	}
	return s
}

// Apply returns x standardized.
func (s *Standardizer) Apply(x *mat.Dense) *mat.Dense {
	out := mat.DenseCopyOf(x)
	n, _ := out.Dims()
	for i := 0; i < n; i++ {
		row := out.RawRowView(i)
		for j := range row {
			row[j] = (row[j] - s.Mean[j]) / s.Scale[j]
		}
	}
	return out
}

// Rows returns the rows idx of x as a new matrix; idx must not be empty.
func Rows(x *mat.Dense, idx []int) *mat.Dense {
	_, d := x.Dims()
	out := mat.NewDense(len(idx), d, nil)
	for i, r := range idx {
		out.SetRow(i, x.RawRowView(r))
	}
	return out
}

// PCA2 projects x on its first two principal components, found by power
// iteration on the centered rows (O(n·d) per step, no d x d matrix), each
// signed so that its largest coefficient is positive.
func PCA2(x *mat.Dense) (*mat.Dense, error) {
	n, d := x.Dims()
	c := mat.DenseCopyOf(x)
	for j := 0; j < d; j++ {
		m := 0.0
		for i := 0; i < n; i++ {
			m += c.At(i, j)
		}
		m /= float64(n)
		for i := 0; i < n; i++ {
			c.Set(i, j, c.At(i, j)-m)
		}
	}
	comps := mat.NewDense(d, 2, nil)
	var found []*mat.VecDense
	for k := 0; k < 2 && k < d; k++ {
		v := mat.NewVecDense(d, nil)
		for j := 0; j < d; j++ {
			v.SetVec(j, 1+0.01*float64(j%7)+0.001*float64(k*j%5))
		}
		y := mat.NewVecDense(n, nil)
		w := mat.NewVecDense(d, nil)
		for it := 0; it < 1000; it++ {
			for _, f := range found {
				v.AddScaledVec(v, -mat.Dot(v, f), f)
			}
			nv := mat.Norm(v, 2)
			if nv == 0 {
				break
			}
			v.ScaleVec(1/nv, v)
			y.MulVec(c, v)
			w.MulVec(c.T(), y)
			for _, f := range found {
				w.AddScaledVec(w, -mat.Dot(w, f), f)
			}
			nw := mat.Norm(w, 2)
			if nw == 0 {
				break
			}
			w.ScaleVec(1/nw, w)
			diff := 0.0
			for j := 0; j < d; j++ {
				diff = math.Max(diff, math.Abs(w.AtVec(j)-v.AtVec(j)))
			}
			v.CopyVec(w)
			if diff < 1e-12 {
				break
			}
		}
		if nv := mat.Norm(v, 2); nv == 0 || math.IsNaN(nv) {
			if k == 0 {
				return nil, errPCA
			}
			break
		}
		big := 0
		for j := 0; j < d; j++ {
			if math.Abs(v.AtVec(j)) > math.Abs(v.AtVec(big)) {
				big = j
			}
		}
		if v.AtVec(big) < 0 {
			v.ScaleVec(-1, v)
		}
		found = append(found, v)
		comps.SetCol(k, v.RawVector().Data)
	}
	out := mat.NewDense(n, 2, nil)
	out.Mul(c, comps)
	return out, nil
}
