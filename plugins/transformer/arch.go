package transformer

import (
	"math"
	"strconv"

	"github.com/gozoo/gozoo/sdk/nn"
)

// vitArch is one torchvision VisionTransformer configuration.
type vitArch struct {
	name   string
	patch  int64 // patch_size
	layers int64 // num_layers
	heads  int64 // num_heads
	hidden int64 // hidden_dim
	mlp    int64 // mlp_dim
	doc    string
}

// vitArchs lists the variants exactly as torchvision 0.14 defines them
// (vit_h_14's 632M parameters are over sdk/nn's per-model limit). The
// arch "vit" takes these sizes as options instead.
var vitArchs = []vitArch{
	{"vit_b_16", 16, 12, 12, 768, 3072, "ViT-B/16"},
	{"vit_b_32", 32, 12, 12, 768, 3072, "ViT-B/32"},
	{"vit_l_16", 16, 24, 16, 1024, 4096, "ViT-L/16"},
	{"vit_l_32", 32, 24, 16, 1024, 4096, "ViT-L/32"},
}

// lnEps is the eps of torchvision ViT's LayerNorms.
const lnEps = 1e-6

// build records torchvision's VisionTransformer.forward for images of
// the given shape ([N, 3, H, W], N -1), with the position embeddings
// resampled to the patch grid of H x W (vit.posEmbedding). Nothing in the
// graph depends on H and W but the input's shape, so one graph (and one
// ONNX Runtime session) serves every image size.
func (n *vit) build(input []int64) *nn.Builder {
	b := nn.NewBuilder("VisionTransformer")
	x := b.Input(inputName, input, 0, 2, 3)
	E, p := n.hidden, n.patch
	if h, w := input[2], input[3]; h%p != 0 || w%p != 0 || h < p || w < p {
		b.Failf("image size %dx%d is not a multiple of the patch size %d", h, w, p)
	}
	// VisionTransformer registers class_token after conv_proj but, as
	// the root's own parameter, named_parameters lists it first.
	cls := b.Param("class_token", []int64{1, 1, E}, nn.Init{Kind: nn.InitZeros})
	fanIn := float64(3 * p * p)
	x = b.Conv2d("conv_proj", x, nn.Conv2d{In: 3, Out: E, Kernel: nn.P(p), Stride: nn.P(p), Bias: true,
		WeightInit: nn.Normal(0, math.Sqrt(1/fanIn))})
	grid := x
	// _process_input: (n, E, h, w) -> (n, h*w, E); then the class token.
	tok := b.Transpose("", "", b.Reshape(x, 0, E, -1), 0, 2, 1)
	tok = b.Concat("", 1, b.BroadcastBatch(cls, tok), tok)
	enc := b.Module("encoder", "Encoder", func() nn.Value {
		pos := b.Param("pos_embedding", []int64{1, n.seqLength(), E}, nn.Normal(0, 0.02))
		h := b.Plus(tok, n.posEmbedding(b, pos, grid))
		h = b.Dropout("dropout", h)
		h = b.Module("layers", "Sequential", func() nn.Value {
			for i := range n.layers {
				h = n.block(b, "encoder_layer_"+strconv.FormatInt(i, 10), h)
			}
			return h
		})
		return b.LayerNorm("ln", h, E, lnEps)
	})
	// Features besides torch's modules: the class token the heads read
	// (x[:, 0] in forward) and the mean of the patch tokens.
	shape := enc.Shape()
	first := b.Node("cls_token", "ClassToken", "Gather", []nn.Value{enc, b.ConstInt(0)}, []int64{shape[0], E}, nn.Int("axis", 1))
	b.ReduceMean64("patch_mean", "MeanPatchTokens", b.Slice(enc, 1, 1, math.MaxInt64), false, 1)
	b.Module("heads", "Sequential", func() nn.Value {
		y, in := first, E
		if n.repr > 0 {
			y = b.Tanh("act", b.Linear("pre_logits", y, E, n.repr, true))
			in = n.repr
		}
		return b.Linear("head", y, in, n.numClasses, true)
	})
	return b
}

// seqLength is the checkpoint's token count: the patches of an
// image_size square and the class token.
func (n *vit) seqLength() int64 {
	g := n.imageSize / n.patch
	return g*g + 1
}

// posEmbedding returns pos ([1, 1+g*g, E] for the image_size grid g)
// resampled to the patch grid of conv_proj's output, as timm's
// resample_abs_pos_embed does: the class token's embedding kept, the
// grid's interpolated bicubically (align_corners=False, no antialias).
// At the checkpoint's own grid the resampling is the identity.
func (n *vit) posEmbedding(b *nn.Builder, pos, grid nn.Value) nn.Value {
	E, g := n.hidden, n.imageSize/n.patch
	sh := grid.Shape()
	clsPos := b.Slice(pos, 1, 0, 1)
	gridPos := b.Transpose("", "", b.Reshape(b.Slice(pos, 1, 1, math.MaxInt64), 1, g, g, E), 0, 3, 1, 2)
	gridPos = b.Bicubic("", "", gridPos, b.Dims(grid, 2, 4), sh[2], sh[3])
	gridPos = b.Reshape(b.Transpose("", "", gridPos, 0, 2, 3, 1), 1, -1, E)
	return b.Concat("", 1, clsPos, gridPos)
}

// block is torchvision's EncoderBlock: pre-norm self-attention and MLP,
// each with a residual connection.
func (n *vit) block(b *nn.Builder, name string, x nn.Value) nn.Value {
	E := n.hidden
	return b.Module(name, "EncoderBlock", func() nn.Value {
		h := b.LayerNorm("ln_1", x, E, lnEps)
		h = b.SelfAttention("self_attention", h, nn.Attention{EmbedDim: E, NumHeads: n.heads, BatchFirst: true}, nn.Value{})
		h = b.Dropout("dropout", h)
		h = b.Add("", h, x)
		y := b.LayerNorm("ln_2", h, E, lnEps)
		y = b.Module("mlp", "MLPBlock", func() nn.Value {
			y = b.Linear("0", y, E, n.mlp, true)
			y = b.GELU("1", y)
			y = b.Dropout("2", y)
			y = b.Linear("3", y, n.mlp, E, true)
			return b.Dropout("4", y)
		})
		return b.Add("", h, y)
	})
}
