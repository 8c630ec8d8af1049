// Package swin is gozoo's Swin Transformer backbone: torchvision 0.14's
// swin_t, swin_s and swin_b (Swin v1), built in Go with sdk/nn and run on
// ONNX Runtime. The binary is gozoo-backbone-swin.
//
// Torchvision state_dicts load by key, strictly; a checkpoint sets
// num_classes (head). Each block's relative_position_index buffer must be
// torchvision's (the graph holds its own copy; another index is an
// sdk.ErrWeights error). The graph is torchvision's SwinTransformer.forward
// in eval mode (StochasticDepth and dropout are the identity), with
// torchvision's shifted_window_attention: maps padded at the bottom and
// right to whole 7x7 windows, rolled by half a window in every second
// block (not along an axis whose padded size one window covers), the
// relative position bias, -100 between tokens of different regions of a
// shifted map, and PatchMerging padding odd sizes.
//
// Layers are torchvision's module paths, channels-last as torch computes
// them: features.0 (patch embedding: features.0.0 Conv2d, features.0.1
// Permute, features.0.2 LayerNorm), the stages features.1, .3, .5 and .7
// (Sequential of SwinTransformerBlock) with each block's norm1, attn,
// attn.qkv and attn.proj (per window, [N*windows, 49, C]: torch reads
// their weights with F.linear and never calls them, so no torch hook sees
// what these layers return), norm2, mlp (mlp.0 ... mlp.4) and
// stochastic_depth (its last call: the MLP branch), the PatchMerging
// layers features.2, .4 and .6 (with norm and reduction), norm, permute
// (to NCHW), avgpool, flatten ([N, C]: the usual image embedding) and
// head.
//
// Any image of at least 4x4 runs, as torchvision's code takes it (the
// patch embedding floors sizes that are not multiples of 4); windows,
// padding and shifts depend on the size, so each image size gets its own
// graph and ONNX Runtime session.
package swin
