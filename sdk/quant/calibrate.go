package quant

import (
	"fmt"
	"math"

	"github.com/gozoo/gozoo/sdk"
)

// Method is how calibration turns a tensor's observed values into the
// range its 8-bit values cover.
type Method string

// Calibration methods.
const (
	// MinMax covers every value seen.
	MinMax Method = "minmax"
	// Percentile covers the central Options.Percentile percent of the
	// values seen (the rest are clipped), per tensor.
	Percentile Method = "percentile"
	// Entropy picks, per tensor, the clipping threshold whose quantized
	// histogram is closest to the observed one in Kullback-Leibler
	// divergence (TensorRT's entropy calibration).
	Entropy Method = "entropy"
)

// Methods lists the calibration methods.
var Methods = []Method{MinMax, Percentile, Entropy}

// histBins is the histogram resolution of percentile and entropy
// calibration.
const histBins = 2048

// stats holds what calibration saw of one tensor.
type stats struct {
	min, max float64
	n        int64
	// hist counts values over [0, top] (|x| for a tensor with negative
	// values) in histBins bins; filled by the second pass.
	hist []float64
	top  float64
	abs  bool
	// lowHist counts -x of the negative values, for the percentile of a
	// signed tensor.
	lowHist []float64
	// zeros counts the values that are exactly 0 (a Relu's floor,
	// padding), which any range represents exactly: entropy calibration
	// leaves them out of its histogram.
	zeros float64
}

func newStats() *stats { return &stats{min: math.Inf(1), max: math.Inf(-1)} }

// observe records the range of values.
func (s *stats) observe(v []float32) error {
	for _, x := range v {
		f := float64(x)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return fmt.Errorf("%w: the model computes %v on a calibration input: check the inputs and weights", sdk.ErrBadInput, x)
		}
		s.min = math.Min(s.min, f)
		s.max = math.Max(s.max, f)
	}
	s.n += int64(len(v))
	return nil
}

// startHist sizes the histogram from the range the first pass saw.
func (s *stats) startHist() {
	s.abs = s.min < 0
	s.top = math.Max(math.Abs(s.min), math.Abs(s.max))
	s.hist = make([]float64, histBins)
	if s.abs {
		s.lowHist = make([]float64, histBins)
	}
}

// bin returns the histogram bin of a non-negative value.
func (s *stats) bin(x float64) int {
	if s.top == 0 {
		return 0
	}
	return min(histBins-1, int(x/s.top*histBins))
}

// count adds values to the histogram.
func (s *stats) count(v []float32) {
	for _, x := range v {
		f := float64(x)
		if f == 0 {
			s.zeros++
			continue
		}
		if f < 0 && s.abs {
			b := s.bin(-f)
			s.lowHist[b]++
			s.hist[b]++
			continue
		}
		f = math.Max(f, 0) // the first pass saw no negative value
		s.hist[s.bin(f)]++
	}
}

// rangeFor returns the range [lo, hi] method calibrates for the tensor.
// A Relu's output (nonneg) starts at 0.
func (s *stats) rangeFor(m Method, percentile float64, nonneg bool) (lo, hi float64) {
	lo, hi = s.min, s.max
	if nonneg || lo > 0 {
		lo = 0
	}
	if s.hist == nil || s.top == 0 {
		return lo, hi
	}
	width := s.top / histBins
	switch m {
	case Percentile:
		s.hist[0] += s.zeros
		defer func() { s.hist[0] -= s.zeros }()
		q := percentile / 100
		if s.abs {
			// Signed: clip each side at its share of the tails.
			var pos, neg float64
			for i := range s.hist {
				neg += s.lowHist[i]
				pos += s.hist[i] - s.lowHist[i]
			}
			total := pos + neg
			hi = math.Min(hi, upper(sub(s.hist, s.lowHist), (1-q)*total, width))
			lo = math.Max(lo, -upper(s.lowHist, (1-q)*total, width))
		} else {
			hi = math.Min(hi, upper(s.hist, (1-q)*float64(s.n), width))
		}
	case Entropy:
		if !s.abs {
			// [0, t] in 256 steps.
			hi = math.Min(hi, (float64(klThreshold(s.hist, 256))+0.5)*width)
			break
		}
		// Each side of zero gets its own threshold, with the steps of
		// the 8-bit range shared in proportion to the sides' extents.
		neg := int(math.Round(256 * -lo / (hi - lo)))
		if neg >= 16 {
			lo = math.Max(lo, -(float64(klThreshold(s.lowHist, neg))+0.5)*width)
		}
		if 256-neg >= 16 {
			hi = math.Min(hi, (float64(klThreshold(sub(s.hist, s.lowHist), 256-neg))+0.5)*width)
		}
	}
	return lo, hi
}

// sub returns a - b elementwise.
func sub(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// upper returns the value below which all but tail of the histogram's
// mass lies: the upper edge of the bin where the tail starts.
func upper(hist []float64, tail, width float64) float64 {
	acc := 0.0
	for i := len(hist) - 1; i >= 0; i-- {
		acc += hist[i]
		if acc > tail {
			return float64(i+1) * width
		}
	}
	return 0
}

// klThreshold returns the histogram bin at which to clip so that the
// distribution quantized to levels steps is closest to the observed one
// in KL divergence (TensorRT's entropy calibration). For each candidate
// i, the reference P is the first i bins with the mass beyond folded into
// the last; the candidate Q is the first i bins alone, merged into levels
// groups and spread back evenly over the bins where P is not empty. Q
// lacks the clipped mass, so clipping much costs divergence, and merging
// many bins into one step costs it too.
func klThreshold(hist []float64, levels int) int {
	n := len(hist)
	last := n - 1
	for last > 0 && hist[last] == 0 {
		last--
	}
	if last+1 <= levels {
		return last // every value fits without clipping
	}
	best, bestKL := last, math.Inf(1)
	p := make([]float64, n)
	q := make([]float64, n)
	tail := 0.0
	for _, h := range hist[levels:] {
		tail += h
	}
	for i := levels; i <= last+1; i++ {
		// tail holds the mass of bins >= i.
		copy(p, hist[:i])
		p[i-1] += tail
		pTotal, qTotal := 0.0, 0.0
		for j := 0; j < levels; j++ {
			a, b := j*i/levels, (j+1)*i/levels
			sum, nz := 0.0, 0
			for k := a; k < b; k++ {
				sum += hist[k]
				if p[k] > 0 {
					nz++
				}
			}
			for k := a; k < b; k++ {
				q[k] = 0
				if p[k] > 0 {
					q[k] = sum / float64(nz)
				}
				pTotal += p[k]
				qTotal += q[k]
			}
		}
		kl := 0.0
		for k := 0; k < i; k++ {
			if p[k] == 0 {
				continue
			}
			pk := p[k] / pTotal
			qk := math.Max(q[k]/qTotal, 1e-12) // a bin only the clipped mass fills
			kl += pk * math.Log(pk/qk)
		}
		if kl < bestKL {
			best, bestKL = i-1, kl
		}
		if i < n {
			tail -= hist[i]
		}
	}
	return best
}

// params returns the scale and zero point covering [lo, hi] with the
// 8-bit type's range [qmin, qmax]; the range always includes 0, so that
// 0 (padding, a Relu's floor) is exact.
func params(lo, hi float64, qmin, qmax int32) (float32, int32) {
	lo, hi = math.Min(lo, 0), math.Max(hi, 0)
	if hi-lo < 1e-12 {
		return 1, clampZero(0, qmin, qmax) // all zeros
	}
	scale := (hi - lo) / float64(qmax-qmin)
	zero := clampZero(int32(math.Round(float64(qmin)-lo/scale)), qmin, qmax)
	return float32(scale), zero
}

func clampZero(z, qmin, qmax int32) int32 {
	if z < qmin {
		return qmin
	}
	if z > qmax {
		return qmax
	}
	return z
}
