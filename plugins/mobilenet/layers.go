package mobilenet

import (
	"github.com/gozoo/gozoo/sdk/nn"
)

// convInit is the conv init of every net here:
// kaiming_normal_(mode="fan_out").
var convInit = nn.Init{Kind: nn.InitKaimingNormalFanOut}

// act is an activation module.
type act int

const (
	noAct act = iota
	relu
	relu6
	hardswish
)

// add calls activation a as module name.
func (a act) add(b *nn.Builder, name string, x nn.Value) nn.Value {
	switch a {
	case relu:
		return b.ReLU(name, x)
	case relu6:
		return b.ReLU6(name, x)
	case hardswish:
		return b.Hardswish(name, x)
	}
	return x
}

// cna configures torchvision.ops.Conv2dNormActivation with BatchNorm2d:
// a conv without bias (padding (kernel-1)/2*dilation), the norm, then the
// activation when there is one.
type cna struct {
	in, out, kernel, stride, groups, dilation int64
	act                                       act
	eps                                       float32
}

// convNormAct adds module name as a Conv2dNormActivation: children 0
// (Conv2d), 1 (BatchNorm2d) and 2 (the activation).
func convNormAct(b *nn.Builder, name string, x nn.Value, c cna) nn.Value {
	if c.stride == 0 {
		c.stride = 1
	}
	if c.dilation == 0 {
		c.dilation = 1
	}
	return b.Module(name, "Conv2dNormActivation", func() nn.Value {
		x = b.Conv2d("0", x, nn.Conv2d{In: c.in, Out: c.out, Kernel: nn.P(c.kernel), Stride: nn.P(c.stride),
			Padding: nn.P((c.kernel - 1) / 2 * c.dilation), Dilation: nn.P(c.dilation), Groups: c.groups, WeightInit: convInit})
		x = b.BatchNorm2dEps("1", x, c.out, c.eps)
		return c.act.add(b, "2", x)
	})
}

// conv adds a Conv2d without bias, padding kernel/2, as every net here
// writes its convolutions outside Conv2dNormActivation.
func conv(b *nn.Builder, name string, x nn.Value, in, out, kernel, stride, groups int64) nn.Value {
	return b.Conv2d(name, x, nn.Conv2d{In: in, Out: out, Kernel: nn.P(kernel), Stride: nn.P(stride),
		Padding: nn.P(kernel / 2), Groups: groups, WeightInit: convInit})
}

// globalMean adds torch's x.mean([2, 3]) as a layer named "mean", the
// name torchvision's feature extraction (torch.fx) gives it: the pooled
// features, [N, C].
func globalMean(b *nn.Builder, x nn.Value) nn.Value {
	return b.ReduceMean("mean", "mean", x, false, 2, 3)
}

// avgPool adds module name as torch.nn.AdaptiveAvgPool2d(1): [N, C, 1,
// 1], a ReduceMean over H and W. ONNX Runtime's GlobalAveragePool sums a
// channel in one float32 accumulator, several times further from the
// exact mean than torch is (1e-6 relative over 56x56); its ReduceMean is
// as close as torch.
func avgPool(b *nn.Builder, name string, x nn.Value) nn.Value {
	return b.ReduceMean(name, "AdaptiveAvgPool2d", x, true, 2, 3)
}

// makeDivisible is torchvision's _make_divisible(v, divisor): v rounded
// to the nearest multiple of divisor, at least divisor, and not below 90%
// of v.
func makeDivisible(v float64, divisor int64) int64 {
	n := max(divisor, int64(v+float64(divisor)/2)/divisor*divisor)
	if float64(n) < 0.9*v {
		n += divisor
	}
	return n
}

func itoa(i int) string {
	if i < 10 {
		return string(rune('0' + i))
	}
	return itoa(i/10) + string(rune('0'+i%10))
}
