package nn

import "math"

// SpectralNorm selects torch's spectral normalisation of a module's
// weight (Conv2d.SpectralNorm) and the state_dict layout it was saved
// with. Either way the weight the module uses is the one torch's
// eval-mode forward computes, with no power iteration:
//
//	W_mat = weight.reshape(out, -1)     (dim 0, as for Conv2d)
//	sigma = u · (W_mat v)
//	W     = weight / sigma
//
// computed in the graph from the stored weight and u, v, so that the
// parameters keep their state_dict names. torch updates u and v only in
// training mode; a loaded model uses them as saved.
type SpectralNorm int

const (
	// NoSpectralNorm is a plain weight ("<module>.weight").
	NoSpectralNorm SpectralNorm = iota
	// SpectralNormHook is torch.nn.utils.spectral_norm: the parameter
	// "<module>.weight_orig" and the buffers "<module>.weight_u" [out]
	// and "<module>.weight_v" [in*kh*kw]. The module keeps its class.
	SpectralNormHook
	// SpectralNormParametrized is
	// torch.nn.utils.parametrizations.spectral_norm: the parameter
	// "<module>.parametrizations.weight.original" and the buffers
	// "<module>.parametrizations.weight.0._u" and "._v". torch renames
	// the module's class to "Parametrized<Class>"; the layer's kind does
	// too. The parametrization's own modules (a ModuleDict, a
	// ParametrizationList, a _SpectralNorm) output weights, not
	// features, and are not layers.
	SpectralNormParametrized
)

// kind returns the class torch gives a module of class base.
func (s SpectralNorm) kind(base string) string {
	if s == SpectralNormParametrized {
		return "Parametrized" + base
	}
	return base
}

// spectralParams declares, in the current module scope, a weight of the
// given shape normalised as s says (and a bias of shape[0] elements when
// bias is true), and returns the normalised weight and the bias. The
// bias comes first in the state_dict: both of torch's spectral_norm
// functions move the weight after the module's other parameters.
func (b *Builder) spectralParams(s SpectralNorm, shape []int64, init Init, bias bool) []Value {
	out, k := shape[0], int64(1)
	for _, d := range shape[1:] {
		k *= d
	}
	var bv Value
	if bias {
		bound := 1 / math.Sqrt(float64(k)) // torch's default bias init, 1/sqrt(fan_in)
		bv = b.Param("bias", []int64{out}, Uniform(-bound, bound))
	}
	// torch draws u and v from N(0, 1) and normalises them; a seeded
	// init draws them at about unit length.
	uInit, vInit := Normal(0, 1/math.Sqrt(float64(out))), Normal(0, 1/math.Sqrt(float64(k)))
	var w, u, v Value
	if s == SpectralNormHook {
		w = b.Param("weight_orig", shape, init)
		u = b.Buffer("weight_u", []int64{out}, uInit)
		v = b.Buffer("weight_v", []int64{k}, vInit)
	} else {
		b.Within("parametrizations", func() []Value {
			return b.Within("weight", func() []Value {
				w = b.Param("original", shape, init)
				return b.Within("0", func() []Value {
					u = b.Buffer("_u", []int64{out}, uInit)
					v = b.Buffer("_v", []int64{k}, vInit)
					return nil
				})
			})
		})
	}
	mat := b.Node("", "", "Reshape", []Value{w, b.ConstInts(out, k)}, []int64{out, k})
	wv := b.Node("", "", "MatMul", []Value{mat, v}, []int64{out}) // torch.mv(W_mat, v)
	sigma := b.ReduceSum("", "", b.Mul(u, wv), false, 0)          // torch.dot(u, ·)
	if !bias {
		return []Value{b.Div(w, sigma)}
	}
	return []Value{b.Div(w, sigma), bv}
}
