package quant

import (
	"math"
	"math/rand"
	"testing"
)

// TestParams checks scales and zero points: the range always includes
// 0, 0 maps exactly to the zero point, and the ends map to qmin and qmax.
func TestParams(t *testing.T) {
	for _, tc := range []struct {
		lo, hi     float64
		qmin, qmax int32
		zero       int32
	}{
		{0, 2.55, 0, 255, 0},
		{-1, 1, 0, 255, 128},
		{0.5, 3, 0, 255, 0}, // widened to include 0
		{-2, -1, 0, 255, 255},
		{0, 2.55, -128, 127, -128},
		{0, 0, 0, 255, 0},
	} {
		scale, zero := params(tc.lo, tc.hi, tc.qmin, tc.qmax)
		if zero != tc.zero || !(scale > 0) {
			t.Errorf("params(%g, %g, [%d, %d]) = %g, %d; want zero point %d", tc.lo, tc.hi, tc.qmin, tc.qmax, scale, zero, tc.zero)
		}
		lo, hi := math.Min(tc.lo, 0), math.Max(tc.hi, 0)
		if hi > lo {
			if q := math.Round(hi/float64(scale)) + float64(zero); q > float64(tc.qmax)+0.5 {
				t.Errorf("params(%g, %g): the top maps to %g, over %d", tc.lo, tc.hi, q, tc.qmax)
			}
		}
	}
}

// observed returns the statistics of values after both passes.
func observed(v []float32) *stats {
	s := newStats()
	if err := s.observe(v); err != nil {
		panic(err)
	}
	s.startHist()
	s.count(v)
	return s
}

// TestRanges checks the three methods on a Relu-like tensor with a few
// large outliers: min-max covers them, percentile and entropy clip them,
// and a tensor without outliers is clipped little.
func TestRanges(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	v := make([]float32, 200000)
	for i := range v {
		if x := rng.NormFloat64(); x > 0 {
			v[i] = float32(x)
		}
	}
	v[0], v[1] = 40, 35 // outliers
	s := observed(v)
	if lo, hi := s.rangeFor(MinMax, 0, true); lo != 0 || hi != 40 {
		t.Errorf("minmax range = [%g, %g]; want [0, 40]", lo, hi)
	}
	if lo, hi := s.rangeFor(Percentile, 99.99, true); lo != 0 || hi > 6 || hi < 3 {
		t.Errorf("percentile 99.99 range = [%g, %g]; want [0, about 4]", lo, hi)
	}
	if lo, hi := s.rangeFor(Entropy, 0, true); lo != 0 || hi > 8 || hi < 3 {
		t.Errorf("entropy range = [%g, %g]; want [0, about 5]: the outliers clipped, the normal tail kept", lo, hi)
	}
	// Uniform values: entropy keeps nearly everything.
	u := make([]float32, 100000)
	for i := range u {
		u[i] = rng.Float32()*2 - 1
	}
	s = observed(u)
	if lo, hi := s.rangeFor(Entropy, 0, false); lo > -0.9 || hi < 0.9 {
		t.Errorf("entropy range of uniform [-1, 1] = [%g, %g]; want most of it", lo, hi)
	}
	if lo, hi := s.rangeFor(Percentile, 99.999, false); lo > -0.99 || hi < 0.99 {
		t.Errorf("percentile range of uniform [-1, 1] = [%g, %g]; want nearly all of it", lo, hi)
	}
	if err := newStats().observe([]float32{float32(math.NaN())}); err == nil {
		t.Error("observe(NaN) = nil; want an error")
	}
}
