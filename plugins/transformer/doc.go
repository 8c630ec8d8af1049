// Package transformer is gozoo's transformer backbone: torchvision's
// Vision Transformers and torch.nn.TransformerEncoder text encoders,
// built in Go with sdk/nn and run on ONNX Runtime. The binary is
// gozoo-backbone-transformer.
//
// # Vision Transformers
//
// The archs vit_b_16, vit_b_32, vit_l_16 and vit_l_32 are torchvision
// 0.14's VisionTransformer exactly, and the arch vit is the same class
// with its sizes as options (patch_size, num_layers, num_heads, hidden_dim,
// mlp_dim). Torchvision state_dicts load by key, strictly (legacy
// mlp.linear_1/linear_2 keys are renamed as torchvision does); a
// checkpoint sets num_classes (heads.head), representation_size
// (heads.pre_logits) and image_size (the grid of encoder.pos_embedding),
// and for vit also patch_size, num_layers, hidden_dim and mlp_dim.
// num_heads is in no checkpoint: give it for vit.
//
// Layers are torchvision's module paths: conv_proj, encoder,
// encoder.dropout (tokens plus position embeddings), encoder.layers,
// encoder.layers.encoder_layer_N and its ln_1, self_attention,
// self_attention.out_proj, dropout, ln_2, mlp and mlp.0 ... mlp.4,
// encoder.ln, heads, heads.pre_logits and heads.act (with
// representation_size) and heads.head. Two more layers are no torch
// module:
//
//	cls_token   [N, hidden_dim]  the class token after encoder.ln, x[:, 0],
//	            what the heads read: the usual image embedding
//	patch_mean  [N, hidden_dim]  the mean of the patch tokens after
//	            encoder.ln, x[:, 1:].mean(1)
//
// Any image size whose height and width are multiples of the patch size
// runs, not only image_size (torchvision refuses others): the position
// embeddings of the image_size grid are resampled to the input's patch
// grid as timm's resample_abs_pos_embed does with antialias off, the class
// token's embedding kept and the grid's interpolated with
// F.interpolate(mode="bicubic", align_corners=False). The resampling is
// in the graph (ONNX Resize, cubic, coefficient -0.75, half-pixel), sized
// from the input when the graph runs, so one ONNX Runtime session serves
// every image size; at image_size it is the identity. Other sizes are an
// sdk.ErrBadInput error naming the nearest that work.
//
// # Text encoders
//
// The arch text_encoder loads the state_dict of this module (a PyTorch
// model laid out so; testdata/text_encoder.py holds it):
//
//	class TextEncoder(nn.Module):
//	    def __init__(self, num_embeddings, d_model, nhead, num_layers, dim_feedforward,
//	                 max_len, num_classes=0, norm_first=False, activation="relu",
//	                 batch_first=True, final_norm=False, pooling="mean", layer_norm_eps=1e-5):
//	        super().__init__()
//	        self.embedding = nn.Embedding(num_embeddings, d_model)
//	        self.pos_embedding = nn.Parameter(torch.zeros(max_len, d_model))  # learned
//	        layer = nn.TransformerEncoderLayer(d_model, nhead, dim_feedforward, activation=activation,
//	                                           layer_norm_eps=layer_norm_eps, batch_first=batch_first,
//	                                           norm_first=norm_first)
//	        norm = nn.LayerNorm(d_model, eps=layer_norm_eps) if final_norm else None
//	        self.encoder = nn.TransformerEncoder(layer, num_layers, norm=norm)
//	        self.fc = nn.Linear(d_model, num_classes) if num_classes else None
//
//	    def forward(self, ids, lengths):  # ids [N, T] (batch_first) or [T, N]
//	        t = 1 if self.batch_first else 0
//	        pos = self.pos_embedding[:ids.shape[t]]
//	        x = self.embedding(ids) + (pos if self.batch_first else pos[:, None])
//	        pad = torch.arange(ids.shape[t])[None, :] >= lengths[:, None]
//	        x = self.encoder(x, src_key_padding_mask=pad)
//	        # mean over valid tokens, or the first token (a [CLS] id)
//	        ...
//	        return self.fc(pooled) if self.fc is not None else pooled
//
// A checkpoint sets num_embeddings, d_model, max_len, num_layers,
// dim_feedforward, final_norm and num_classes; nhead, norm_first,
// activation (relu or gelu), layer_norm_eps and batch_first are in no
// checkpoint and default to torch's (nhead 8 as nn.Transformer's), except
// batch_first, true as every gozoo backbone takes the batch first.
//
// Inputs are int64 token ids, [N, T] or [T, N], T up to max_len, ids
// inside the vocabulary. ExtractRequest.Lengths gives each sequence's
// valid tokens (1..T; default T): padded keys are masked in every
// attention as src_key_padding_mask masks them, so padding never changes a
// sequence's features, and every per-token layer is zero at padded
// positions (as torch's nested-tensor path returns them). One graph
// serves every sequence length.
//
// Layers: embedding, encoder, encoder.layers.N with self_attn,
// self_attn.out_proj, linear1, dropout, linear2, norm1, norm2, dropout1,
// dropout2 (the activation is a function, not a module), encoder.norm
// (final_norm), fc (num_classes), all in the input's layout, and two that
// are no torch module:
//
//	mean  [N, d_model]  the mean of encoder's output over valid tokens
//	cls   [N, d_model]  encoder's output at the first token
//
// fc reads the one the pooling option names, which is also the default
// output without fc.
package transformer
