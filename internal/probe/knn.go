package probe

import (
	"math"
	"sort"

	"gonum.org/v1/gonum/mat"
)

// KNN predicts by a majority vote of the k training rows of highest cosine
// similarity; neighbours of equal similarity are taken in training-row
// order, and a tied vote goes to the smallest class index. Scores [n, K]
// are the vote shares.
func KNN(train *mat.Dense, ytrain []int, test *mat.Dense, k, classes int) ([]int, *mat.Dense) {
	a, b := normalize(train), normalize(test)
	n, _ := b.Dims()
	nt, _ := a.Dims()
	k = min(k, nt)
	sim := mat.NewDense(n, nt, nil)
	sim.Mul(b, a.T())
	pred := make([]int, n)
	scores := mat.NewDense(n, classes, nil)
	idx := make([]int, nt)
	for i := 0; i < n; i++ {
		row := sim.RawRowView(i)
		for j := range idx {
			idx[j] = j
		}
		sort.SliceStable(idx, func(p, q int) bool { return row[idx[p]] > row[idx[q]] })
		votes := scores.RawRowView(i)
		for _, j := range idx[:k] {
			votes[ytrain[j]]++
		}
		best := 0
		for c := range votes {
			if votes[c] > votes[best] {
				best = c
			}
		}
		for c := range votes {
			votes[c] /= float64(k)
		}
		pred[i] = best
	}
	return pred, scores
}

// normalize returns x with rows scaled to unit length (zero rows stay
// zero).
func normalize(x *mat.Dense) *mat.Dense {
	out := mat.DenseCopyOf(x)
	n, _ := out.Dims()
	for i := 0; i < n; i++ {
		row := out.RawRowView(i)
		s := 0.0
		for _, v := range row {
			s += v * v
		}
		if s == 0 {
			continue
		}
		s = 1 / math.Sqrt(s)
		for j := range row {
			row[j] *= s
		}
	}
	return out
}
