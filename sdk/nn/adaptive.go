package nn

import (
	"github.com/gozoo/gozoo/sdk"
)

// adaptiveWindows returns torch's adaptive pooling windows over a
// dimension of size in for out outputs: window i is
// [floor(i*in/out), ceil((i+1)*in/out)).
func adaptiveWindows(in, out int64) [][2]int64 {
	w := make([][2]int64, out)
	for i := range out {
		w[i] = [2]int64{i * in / out, ((i+1)*in + out - 1) / out}
	}
	return w
}

// adaptiveAvgPoolAny computes torch's AdaptiveAvgPool2d for any known
// input size as sums over each window, by two matrix products with 0/1
// window masks, divided by the window sizes. The masks are constants, so
// the graph serves only the input size it was built for.
func (b *Builder) adaptiveAvgPoolAny(name, kind string, x Value, out Pair) Value {
	sh := x.t.shape
	h, w := sh[2], sh[3]
	wh, ww := adaptiveWindows(h, out[0]), adaptiveWindows(w, out[1])
	mh := make([]int64, out[0]*h) // [out_h, H]
	for i, win := range wh {
		for j := win[0]; j < win[1]; j++ {
			mh[int64(i)*h+j] = 1
		}
	}
	mw := make([]int64, w*out[1]) // [W, out_w]
	for i, win := range ww {
		for j := win[0]; j < win[1]; j++ {
			mw[j*out[1]+int64(i)] = 1
		}
	}
	cnt := make([]int64, out[0]*out[1])
	for i, a := range wh {
		for j, c := range ww {
			cnt[int64(i)*out[1]+int64(j)] = (a[1] - a[0]) * (c[1] - c[0])
		}
	}
	rows := b.castFloat32(b.ConstInt64(mh, out[0], h))
	cols := b.castFloat32(b.ConstInt64(mw, w, out[1]))
	div := b.castFloat32(b.ConstInt64(cnt, out[0], out[1]))
	t := b.Node("", "", "MatMul", []Value{x, cols}, []int64{sh[0], sh[1], h, out[1]})
	t = b.Node("", "", "MatMul", []Value{rows, t}, []int64{sh[0], sh[1], out[0], out[1]})
	return b.Node(name, kind, "Div", []Value{t, div}, []int64{sh[0], sh[1], out[0], out[1]})
}

// checkAdaptive reports whether x's spatial size is known, recording a
// build error otherwise.
func (b *Builder) checkAdaptive(name string, x Value) bool {
	if sh := x.t.shape; sh[2] < 0 || sh[3] < 0 {
		b.Failf("%s (AdaptiveAvgPool2d): input %s has a free spatial size; build the graph for a concrete input size",
			b.Path(name), sdk.FormatShape(sh))
		return false
	}
	return true
}
