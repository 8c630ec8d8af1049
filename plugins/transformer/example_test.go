package transformer_test

import (
	"context"
	"fmt"

	"github.com/gozoo/gozoo/plugins/transformer"
	"github.com/gozoo/gozoo/sdk"
)

// A ViT takes any image size that is a multiple of its patch size: the
// position embeddings are resampled to the patch grid (18 x 20 here). A
// small vit; vit_b_16 is the same with 768 features and 12 blocks.
func ExampleNew() {
	ctx := context.Background()
	m, err := transformer.New().Load(ctx, &sdk.LoadRequest{Arch: "vit", Seed: 1, Options: map[string]string{
		"patch_size": "16", "num_layers": "2", "num_heads": "4", "hidden_dim": "64", "mlp_dim": "128", "image_size": "224"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ls, _ := m.Layers(ctx, &sdk.LayersRequest{InputShape: []int64{-1, 3, 288, 320}})
	for _, l := range ls {
		switch l.Name {
		case "conv_proj", "encoder", "cls_token", "patch_mean", "heads.head":
			fmt.Println(l.Name, l.Kind, sdk.FormatShape(l.Shape))
		}
	}
	// Output:
	// conv_proj Conv2d [N, 64, 18, 20]
	// encoder Encoder [N, 361, 64]
	// cls_token ClassToken [N, 64]
	// patch_mean MeanPatchTokens [N, 64]
	// heads.head Linear [N, 1000]
}

// A text encoder over a ragged batch: lengths mask the padding.
func ExampleNew_textEncoder() {
	ctx := context.Background()
	m, err := transformer.New().Load(ctx, &sdk.LoadRequest{Arch: "text_encoder", Seed: 1, Options: map[string]string{
		"num_embeddings": "100", "d_model": "32", "nhead": "4", "num_layers": "2", "dim_feedforward": "64", "max_len": "64"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	ids := &sdk.Tensor{Shape: []int64{2, 5}, Int64: []int64{5, 17, 42, 8, 9, 11, 3, 0, 0, 0}}
	out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: ids, Lengths: []int64{5, 2}, Layers: []string{"mean", "encoder"}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(sdk.FormatShape(out.Outputs["mean"].Shape), sdk.FormatShape(out.Outputs["encoder"].Shape))
	fmt.Println("padding:", out.Outputs["encoder"].Float32[(1*5+2)*32:(1*5+2)*32+3])
	// Output:
	// [2, 32] [2, 5, 32]
	// padding: [0 0 0]
}
