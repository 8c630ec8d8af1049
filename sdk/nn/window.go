package nn

import (
	"math"

	"github.com/gozoo/gozoo/sdk"
)

// The ops below are the window machinery of torchvision's Swin
// Transformer (v1) over channels-last maps [N, H, W, C]. H and W must be
// known when the graph is built (windows, padding and shifts depend on
// them), so a graph serves one image size; the batch stays free.

// PadEnd pads x with zeros after the end of each axis i by after[i]
// (torch's F.pad with zeros at the right and bottom only).
func (b *Builder) PadEnd(x Value, after ...int64) Value {
	if x.t == nil || len(after) != len(x.t.shape) {
		b.Failf("%s (Pad): %d pads for a rank-%d value", b.Path(""), len(after), len(x.Shape()))
		return Value{b.placeholder()}
	}
	pads := make([]int64, 2*len(after))
	shape := append([]int64(nil), x.t.shape...)
	any := false
	for i, p := range after {
		if p < 0 {
			b.Failf("%s (Pad): negative pad %v", b.Path(""), after)
			return Value{b.placeholder()}
		}
		pads[len(after)+i] = p
		if p > 0 {
			any = true
			if shape[i] >= 0 {
				shape[i] += p
			}
		}
	}
	if !any {
		return x
	}
	v := b.Node("", "", "Pad", []Value{x, b.ConstInts(pads...)}, shape)
	v.t.dtype = x.t.dtype
	return v
}

// Roll is torch.roll(x, shifts, dims) for dims whose sizes are known:
// element i of each axis moves to i + shift, wrapping around.
func (b *Builder) Roll(x Value, shifts []int64, dims ...int) Value {
	if x.t == nil || len(shifts) != len(dims) {
		b.Failf("%s (Roll): %d shifts for %d dims", b.Path(""), len(shifts), len(dims))
		return Value{b.placeholder()}
	}
	for i, d := range dims {
		d = b.normAxis(b.Path("")+" (Roll)", d, len(x.t.shape))
		n := x.t.shape[d]
		if n < 0 {
			b.Failf("%s (Roll): dimension %d of %s is not known", b.Path(""), d, sdk.FormatShape(x.t.shape))
			return Value{b.placeholder()}
		}
		// out[j] = x[(j - shift) mod n]: x[k:] then x[:k], k = -shift mod n.
		k := ((-shifts[i])%n + n) % n
		if k == 0 {
			continue
		}
		x = b.Concat("", d, b.Slice(x, d, k, n), b.Slice(x, d, 0, k))
	}
	return x
}

// WindowPartition cuts x [N, H, W, C] (H and W multiples of the window
// wh x ww) into windows, [N*nW, wh*ww, C], windows in row-major order
// and tokens row-major within each, as torchvision's
// shifted_window_attention does.
func (b *Builder) WindowPartition(x Value, wh, ww int64) Value {
	if !b.checkRank("", "WindowPartition", x, 4) {
		return Value{b.placeholder()}
	}
	sh := x.t.shape
	H, W, C := sh[1], sh[2], sh[3]
	if H < 0 || W < 0 || wh < 1 || ww < 1 || H%wh != 0 || W%ww != 0 {
		b.Failf("%s (WindowPartition): %s is not a grid of %dx%d windows", b.Path(""), sdk.FormatShape(sh), wh, ww)
		return Value{b.placeholder()}
	}
	x = b.Reshape(x, -1, H/wh, wh, W/ww, ww, C)
	x = b.Transpose("", "", x, 0, 1, 3, 2, 4, 5)
	return b.Reshape(x, -1, wh*ww, C)
}

// WindowReverse undoes WindowPartition for windows x [N*nW, wh*ww, C] of
// an H x W map, giving [N, H, W, C].
func (b *Builder) WindowReverse(x Value, H, W, wh, ww int64) Value {
	if !b.checkRank("", "WindowReverse", x, 3) {
		return Value{b.placeholder()}
	}
	if H < 1 || W < 1 || wh < 1 || ww < 1 || H%wh != 0 || W%ww != 0 {
		b.Failf("%s (WindowReverse): %dx%d is not a grid of %dx%d windows", b.Path(""), H, W, wh, ww)
		return Value{b.placeholder()}
	}
	C := x.t.shape[2]
	x = b.Reshape(x, -1, H/wh, W/ww, wh, ww, C)
	x = b.Transpose("", "", x, 0, 1, 3, 2, 4, 5)
	return b.Reshape(x, -1, H, W, C)
}

// MergePatches is torchvision's _patch_merging_pad over x [N, H, W, C]:
// H and W padded with zeros to even sizes, then each 2x2 patch's four
// pixels concatenated over channels in the order x[0::2, 0::2],
// x[1::2, 0::2], x[0::2, 1::2], x[1::2, 1::2], giving
// [N, ceil(H/2), ceil(W/2), 4C].
func (b *Builder) MergePatches(x Value) Value {
	if !b.checkRank("", "PatchMerging", x, 4) {
		return Value{b.placeholder()}
	}
	sh := x.t.shape
	H, W, C := sh[1], sh[2], sh[3]
	if H < 1 || W < 1 || C < 0 {
		b.Failf("%s (PatchMerging): height and width of %s must be known", b.Path(""), sdk.FormatShape(sh))
		return Value{b.placeholder()}
	}
	x = b.PadEnd(x, 0, H%2, W%2, 0)
	h, w := (H+1)/2, (W+1)/2
	// [N, h, 2 (row parity), w, 2 (column parity), C] -> columns' parity
	// before rows' gives the four slices in torchvision's order.
	x = b.Reshape(x, -1, h, 2, w, 2, C)
	x = b.Transpose("", "", x, 0, 1, 3, 4, 2, 5)
	return b.Reshape(x, -1, h, w, 4*C)
}

// RelativePositionIndex is the relative_position_index buffer of
// torchvision's ShiftedWindowAttention for a wh x ww window: for tokens
// i and j (row-major in the window) entry i*wh*ww+j indexes the
// (2wh-1)*(2ww-1) rows of the bias table by their offset.
func RelativePositionIndex(wh, ww int64) []int64 {
	n := wh * ww
	out := make([]int64, 0, n*n)
	for i := range n {
		for j := range n {
			dr := i/ww - j/ww + wh - 1
			dc := i%ww - j%ww + ww - 1
			out = append(out, dr*(2*ww-1)+dc)
		}
	}
	return out
}

// ShiftRegions labels each token of every window of a padded h x w map
// shifted by (sh, sw) with the region it came from before the cyclic
// shift, [nW][wh*ww] flattened: the attention mask of torchvision's
// shifted_window_attention lets two tokens of a window attend to each
// other only when their labels agree.
func ShiftRegions(h, w, wh, ww, sh, sw int64) []int64 {
	region := func(i, n, win, shift int64) int64 {
		switch {
		case i < n-win:
			return 0
		case i < n-shift:
			return 1
		}
		return 2
	}
	out := make([]int64, 0, h*w)
	for r0 := int64(0); r0 < h; r0 += wh {
		for c0 := int64(0); c0 < w; c0 += ww {
			for r := r0; r < r0+wh; r++ {
				for c := c0; c < c0+ww; c++ {
					out = append(out, region(r, h, wh, sh)*3+region(c, w, ww, sw))
				}
			}
		}
	}
	return out
}

// WindowAttention configures torchvision's ShiftedWindowAttention (Swin
// v1): Dim channels, NumHeads heads, a Window of rows x columns and a
// Shift (zero, or half the window in the odd blocks of a stage), with
// biases on qkv and proj.
type WindowAttention struct {
	Dim, NumHeads int64
	Window, Shift Pair
}

// ShiftedWindowAttention adds module name as torchvision 0.14's
// ShiftedWindowAttention over x [N, H, W, C], as its
// shifted_window_attention computes it: x padded at the bottom and right
// to whole windows, rolled by -Shift (no shift along an axis whose padded
// size the window covers), cut into windows, multi-head attention inside
// each window with the relative position bias and, when shifted, -100 on
// pairs of tokens from different regions, then windows put back, rolled
// back and cropped to H x W.
//
// Its state_dict entries are torch's: NAME.relative_position_bias_table
// [(2*wh-1)*(2*ww-1), NumHeads], the int64 buffer
// NAME.relative_position_index [(wh*ww)^2] (RelativePositionIndex; the
// graph uses its own copy, so callers check a checkpoint's against it),
// and the layers NAME.qkv and NAME.proj (Linear).
func (b *Builder) ShiftedWindowAttention(name string, x Value, c WindowAttention) Value {
	const kind = "ShiftedWindowAttention"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	sh := x.t.shape
	H, W, C := sh[1], sh[2], sh[3]
	wh, ww := c.Window[0], c.Window[1]
	switch {
	case c.NumHeads < 1 || c.Dim%c.NumHeads != 0:
		b.Failf("%s (%s): dim %d is not divisible by num_heads %d", b.Path(name), kind, c.Dim, c.NumHeads)
		return Value{b.placeholder()}
	case wh < 1 || ww < 1 || c.Shift[0] < 0 || c.Shift[1] < 0 || c.Shift[0] >= wh || c.Shift[1] >= ww:
		b.Failf("%s (%s): bad window %v or shift %v", b.Path(name), kind, c.Window, c.Shift)
		return Value{b.placeholder()}
	case H < 1 || W < 1:
		b.Failf("%s (%s): height and width of %s must be known", b.Path(name), kind, sdk.FormatShape(sh))
		return Value{b.placeholder()}
	case C >= 0 && C != c.Dim:
		b.Failf("%s (%s) expects %d channels, got %s", b.Path(name), kind, c.Dim, sdk.FormatShape(sh))
		return Value{b.placeholder()}
	}
	heads, hd, n := c.NumHeads, c.Dim/c.NumHeads, wh*ww
	return b.Module(name, kind, func() Value {
		table := b.Param("relative_position_bias_table", []int64{(2*wh - 1) * (2*ww - 1), heads}, Normal(0, 0.02))
		b.StateOnly("relative_position_index", []int64{n * n}, sdk.Int64, false)
		// _get_relative_position_bias: table[index] -> [1, heads, n, n].
		bias := b.Node("", "", "Gather", []Value{table, b.ConstInt64(RelativePositionIndex(wh, ww))}, []int64{n * n, heads}, Int("axis", 0))
		bias = b.Transpose("", "", b.Reshape(bias, n, n, heads), 2, 0, 1)

		padB, padR := (wh-H%wh)%wh, (ww-W%ww)%ww
		ph, pw := H+padB, W+padR
		shift := c.Shift
		if wh >= ph {
			shift[0] = 0
		}
		if ww >= pw {
			shift[1] = 0
		}
		shifted := shift != (Pair{})
		h := b.PadEnd(x, 0, padB, padR, 0)
		if shifted {
			h = b.Roll(h, []int64{-shift[0], -shift[1]}, 1, 2)
		}
		win := b.WindowPartition(h, wh, ww) // [N*nW, n, C]
		qkv := b.Linear("qkv", win, c.Dim, 3*c.Dim, true)
		qkv = b.Transpose("", "", b.Reshape(qkv, -1, n, 3, heads, hd), 2, 0, 3, 1, 4)
		q, k, v := b.Take(qkv, 0, 0), b.Take(qkv, 0, 1), b.Take(qkv, 0, 2)
		q = b.Mul(q, b.ConstFloat(float32(math.Pow(float64(hd), -0.5))))
		attn := b.Plus(b.BatchMatMul(q, b.Transpose("", "", k, 0, 1, 3, 2)), bias)
		if shifted {
			nW := (ph / wh) * (pw / ww)
			labels := b.ConstInt64(ShiftRegions(ph, pw, wh, ww, shift[0], shift[1]), nW, n)
			diff := b.Sub(b.Unsqueeze(labels, 1), b.Unsqueeze(labels, 2)) // [nW, n, n]
			same := b.Cast(b.Binary("", "", "Equal", diff, b.ConstInt(0)), sdk.Float32)
			mask := b.Mul(b.Sub(same, b.ConstFloat(1)), b.ConstFloat(100)) // 0 or -100
			attn = b.Reshape(attn, -1, nW, heads, n, n)
			attn = b.Plus(attn, b.Unsqueeze(mask, 0, 2))
			attn = b.Reshape(attn, -1, heads, n, n)
		}
		y := b.BatchMatMul(b.Softmax("", attn, -1), v) // [N*nW, heads, n, hd]
		y = b.Reshape(b.Transpose("", "", y, 0, 2, 1, 3), -1, n, c.Dim)
		y = b.Linear("proj", y, c.Dim, c.Dim, true)
		y = b.WindowReverse(y, ph, pw, wh, ww)
		if shifted {
			y = b.Roll(y, []int64{shift[0], shift[1]}, 1, 2)
		}
		if padB > 0 {
			y = b.Slice(y, 1, 0, H)
		}
		if padR > 0 {
			y = b.Slice(y, 2, 0, W)
		}
		return y
	})
}
