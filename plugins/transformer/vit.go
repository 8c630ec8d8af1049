package transformer

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/nn"
)

// vitOptions are the options every ViT arch takes; the arch "vit" also
// takes its sizes (sizeOptions).
var vitOptions = []backbone.Option{
	{Name: "num_classes", Kind: backbone.Int, Min: 1, Default: "1000", Usage: "output features of heads.head (read from the checkpoint)"},
	{Name: "image_size", Kind: backbone.Int, Min: 1, Max: 1 << 16, Default: "224", Usage: "the square size the position embeddings were trained for, a multiple of the patch size (read from the checkpoint); other input sizes resample them"},
	{Name: "representation_size", Kind: backbone.Int, Min: 0, Default: "0", Usage: "features of heads.pre_logits (Linear + Tanh before head); 0: none (read from the checkpoint)"},
}

var sizeOptions = []backbone.Option{
	{Name: "patch_size", Kind: backbone.Int, Min: 1, Max: 1024, Default: "16", Usage: "patch size of conv_proj (read from the checkpoint)"},
	{Name: "num_layers", Kind: backbone.Int, Min: 1, Max: 1024, Default: "12", Usage: "encoder blocks (read from the checkpoint)"},
	{Name: "num_heads", Kind: backbone.Int, Min: 1, Default: "12", Usage: "attention heads, dividing hidden_dim (not in checkpoints: give the model's)"},
	{Name: "hidden_dim", Kind: backbone.Int, Min: 1, Default: "768", Usage: "token features (read from the checkpoint)"},
	{Name: "mlp_dim", Kind: backbone.Int, Min: 1, Default: "3072", Usage: "hidden features of each block's MLP (read from the checkpoint)"},
}

// vitFamily returns the ViT archs: torchvision's four and "vit".
func vitFamily() []backbone.Arch {
	var out []backbone.Arch
	for _, a := range vitArchs {
		out = append(out, backbone.Arch{
			Name:    a.name,
			Doc:     a.doc + ", as torchvision 0.14 defines it; any input size that is a multiple of the patch size",
			Input:   imageInput,
			Options: vitOptions,
			Adapt:   adaptViT,
			Infer:   func(sd map[string]*sdk.Tensor) (map[string]string, error) { return inferViT(sd, a.patch, false) },
			New: func(o backbone.Options) (backbone.Net, error) {
				return newViT(o, a)
			},
		})
	}
	out = append(out, backbone.Arch{
		Name:    "vit",
		Doc:     "torchvision VisionTransformer of any size (patch_size, num_layers, num_heads, hidden_dim, mlp_dim)",
		Input:   imageInput,
		Options: append(slices.Clone(sizeOptions), vitOptions...),
		Adapt:   adaptViT,
		Infer:   func(sd map[string]*sdk.Tensor) (map[string]string, error) { return inferViT(sd, 0, true) },
		New: func(o backbone.Options) (backbone.Net, error) {
			return newViT(o, vitArch{name: "vit", patch: o.Int("patch_size"), layers: o.Int("num_layers"),
				heads: o.Int("num_heads"), hidden: o.Int("hidden_dim"), mlp: o.Int("mlp_dim")})
		},
	})
	return out
}

var imageInput = sdk.InputSpec{Shape: []int64{-1, 3, 224, 224}, DType: sdk.Float32}

// vit is one configured VisionTransformer.
type vit struct {
	vitArch
	imageSize, numClasses, repr int64
}

func newViT(o backbone.Options, a vitArch) (*vit, error) {
	n := &vit{vitArch: a, imageSize: o.Int("image_size"), numClasses: o.Int("num_classes"), repr: o.Int("representation_size")}
	if n.hidden%n.heads != 0 {
		return nil, fmt.Errorf("%s: num_heads %d does not divide hidden_dim %d: %w: give the num_heads the model was trained with", a.name, n.heads, n.hidden, sdk.ErrBadOption)
	}
	if n.imageSize%n.patch != 0 {
		return nil, fmt.Errorf("%s: image_size %d is not a multiple of the patch size %d: %w", a.name, n.imageSize, n.patch, sdk.ErrBadOption)
	}
	return n, nil
}

func (n *vit) Input() sdk.InputSpec {
	return sdk.InputSpec{Shape: []int64{-1, 3, -1, -1}, DType: sdk.Float32}
}

func (n *vit) DefaultInput() []int64 { return []int64{-1, 3, n.imageSize, n.imageSize} }

func (n *vit) DefaultLayer() string { return "heads.head" }

func (n *vit) Build(input []int64) *nn.Builder { return n.build(input) }

// CheckInput takes [N, 3, H, W] images whose sides are multiples of the
// patch size.
func (n *vit) CheckInput(shape []int64, free bool) error {
	ok := len(shape) == 4 && shape[1] == 3 && (shape[0] > 0 || free && shape[0] == -1)
	for i := 2; ok && i < 4; i++ {
		ok = shape[i] > 0
	}
	if !ok {
		return &sdk.ShapeError{What: "input", Want: n.Input().Shape, Got: shape,
			Hint: fmt.Sprintf("give [N, 3, H, W] float32 images, H and W multiples of %d", n.patch)}
	}
	if h, w := shape[2], shape[3]; h%n.patch != 0 || w%n.patch != 0 {
		return fmt.Errorf("%s: input %s: %w: height and width must be multiples of the patch size %d; resize or crop to %dx%d, say",
			n.name, sdk.FormatShape(shape), sdk.ErrBadInput, n.patch, roundTo(h, n.patch), roundTo(w, n.patch))
	}
	return nil
}

// roundTo returns the multiple of p nearest to v, at least p.
func roundTo(v, p int64) int64 { return max(p, (v+p/2)/p*p) }

// legacyMLP renames the keys of torchvision's MLPBlock before version 2
// (mlp.linear_1, mlp.linear_2) as its _load_from_state_dict does.
var legacyMLP = strings.NewReplacer(".mlp.linear_1.", ".mlp.0.", ".mlp.linear_2.", ".mlp.3.")

// adaptViT renames legacy MLPBlock keys.
func adaptViT(sd map[string]*sdk.Tensor) (map[string]*sdk.Tensor, error) {
	var legacy []string
	for k := range sd {
		if strings.Contains(k, ".mlp.linear_") {
			legacy = append(legacy, k)
		}
	}
	for _, k := range legacy {
		t := sd[k]
		delete(sd, k)
		sd[legacyMLP.Replace(k)] = t
	}
	return sd, nil
}

// inferViT reads the options a checkpoint's shapes set. With sizes (arch
// "vit") these include patch_size, num_layers, hidden_dim and mlp_dim;
// otherwise patch is the arch's.
func inferViT(sd map[string]*sdk.Tensor, patch int64, sizes bool) (map[string]string, error) {
	out := map[string]string{}
	shape := func(k string) []int64 { return shapeOf(sd, k) }
	conv := shape("conv_proj.weight")
	if len(conv) != 4 || conv[2] != conv[3] {
		return nil, fmt.Errorf("no 4-d square conv_proj.weight: %w: save a torchvision VisionTransformer's state_dict (a conv_stem_configs model is not supported)", sdk.ErrWeights)
	}
	if sizes {
		patch = conv[2]
		out["patch_size"] = fmt.Sprint(patch)
		out["hidden_dim"] = fmt.Sprint(conv[0])
		n := 0
		for shape(fmt.Sprintf("encoder.layers.encoder_layer_%d.ln_1.weight", n)) != nil {
			n++
		}
		if n > 0 {
			out["num_layers"] = fmt.Sprint(n)
		}
		if m := shape("encoder.layers.encoder_layer_0.mlp.0.weight"); len(m) == 2 {
			out["mlp_dim"] = fmt.Sprint(m[0])
		}
	}
	if pos := shape("encoder.pos_embedding"); len(pos) == 3 && pos[1] > 1 {
		g := int64(math.Round(math.Sqrt(float64(pos[1] - 1))))
		if g*g != pos[1]-1 {
			return nil, fmt.Errorf("encoder.pos_embedding %s holds %d patch positions, not a square grid: %w", sdk.FormatShape(pos), pos[1]-1, sdk.ErrWeights)
		}
		out["image_size"] = fmt.Sprint(g * patch)
	}
	if h := shape("heads.head.weight"); len(h) == 2 {
		out["num_classes"] = fmt.Sprint(h[0])
	}
	out["representation_size"] = "0"
	if r := shape("heads.pre_logits.weight"); len(r) == 2 {
		out["representation_size"] = fmt.Sprint(r[0])
	}
	return out, nil
}

// Hint names the torchvision variant a checkpoint that does not fit
// looks like.
func (n *vit) Hint(sd map[string]*sdk.Tensor) string {
	conv := sd["conv_proj.weight"]
	if conv == nil || len(conv.Shape) != 4 {
		return " (the checkpoint is not a torchvision VisionTransformer's: load it with the arch it was saved from)"
	}
	layers := int64(0)
	for sd["encoder.layers.encoder_layer_"+strconv.FormatInt(layers, 10)+".ln_1.weight"] != nil {
		layers++
	}
	for _, a := range vitArchs {
		if a.name != n.name && a.hidden == conv.Shape[0] && a.patch == conv.Shape[2] && a.layers == layers {
			return " (the checkpoint looks like " + a.name + ": load it with --arch " + a.name + ")"
		}
	}
	return fmt.Sprintf(" (the checkpoint has hidden_dim %d, patch_size %d and %d layers: load it with --arch vit, which reads them)", conv.Shape[0], conv.Shape[2], layers)
}
