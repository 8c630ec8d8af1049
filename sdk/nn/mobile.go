package nn

import (
	"github.com/gozoo/gozoo/sdk"
)

// This file holds the elementwise modules and the channel shuffle of
// torchvision's mobile networks (MobileNetV2/V3, MNASNet, ShuffleNetV2).

// ReLU6 adds module name as a torch.nn.ReLU6: min(max(x, 0), 6), an ONNX
// Clip. Whether torch ran it in place does not change the output.
func (b *Builder) ReLU6(name string, x Value) Value {
	if x.t == nil {
		b.Failf("%s (ReLU6): missing input", b.Path(name))
		return Value{b.placeholder()}
	}
	return b.Node(name, "ReLU6", "Clip", []Value{x, b.ConstFloat(0), b.ConstFloat(6)}, x.t.shape)
}

// Hardswish adds module name as a torch.nn.Hardswish: x * relu6(x + 3) / 6,
// ONNX's HardSwish. ONNX computes x * clip(x/6 + 1/2, 0, 1), which
// differs from torch's float32 rounding in the last bit.
func (b *Builder) Hardswish(name string, x Value) Value {
	return b.unary(name, "Hardswish", "HardSwish", x)
}

// Hardsigmoid adds module name as a torch.nn.Hardsigmoid: relu6(x + 3) / 6,
// ONNX's HardSigmoid with alpha 1/6 and beta 1/2 (torch's constants; ONNX's
// defaults are 0.2 and 0.5).
func (b *Builder) Hardsigmoid(name string, x Value) Value {
	return b.unary(name, "Hardsigmoid", "HardSigmoid", x, Float("alpha", 1.0/6), Float("beta", 0.5))
}

// ChannelShuffle permutes the channels of an NCHW input as torchvision's
// ShuffleNetV2 channel_shuffle(x, groups) does (view as [N, groups, C/groups,
// H, W], swap the two channel axes, flatten them again): output channel
// k is input channel (k mod groups)*(C/groups) + k/groups. With an empty
// name it is a functional op, as torchvision's is; otherwise module name
// of class "ChannelShuffle" (torch.nn.ChannelShuffle). The permutation is
// a Gather of constant channel indices, so the graph serves any batch
// and image size.
func (b *Builder) ChannelShuffle(name string, x Value, groups int64) Value {
	const kind = "ChannelShuffle"
	if !b.checkRank(name, kind, x, 4) {
		return Value{b.placeholder()}
	}
	c := x.t.shape[1]
	if groups < 1 || c < 0 || c%groups != 0 {
		b.Failf("%s (%s): %s channels are not divisible into %d groups", b.Path(name), kind, sdk.FormatShape(x.t.shape), groups)
		return Value{b.placeholder()}
	}
	per := c / groups
	idx := make([]int64, c)
	for k := range c {
		idx[k] = (k%groups)*per + k/groups
	}
	out := b.Node(name, kind, "Gather", []Value{x, b.ConstInt64(idx)}, x.t.shape, Int("axis", 1))
	out.t.dtype = x.t.dtype
	return out
}
