// Package efficientnet is gozoo's EfficientNet backbone: efficientnet_b0
// to efficientnet_b7 and efficientnet_v2_s, efficientnet_v2_m and
// efficientnet_v2_l, exactly as torchvision 0.14 defines them, built in
// Go with sdk/nn and run on ONNX Runtime.
//
// # Layout
//
// Every torchvision module is a feature layer, named by its module path:
//
//	features.0                 stem: Conv2dNormActivation (3x3 stride 2, BatchNorm, SiLU)
//	features.1 .. features.S   the stages (Sequential), one per row of torchvision's
//	                           inverted_residual_setting (S = 7, or 6 for V2-S)
//	features.S.B               a block: MBConv, or FusedMBConv in V2's first three stages
//	features.S.B.block.K       its Conv2dNormActivations and, in MBConv, the
//	                           SqueezeExcitation (avgpool, fc1, activation, fc2,
//	                           scale_activation)
//	features.S.B.stochastic_depth  the identity at inference, in blocks that add
//	                           their input back (stride 1, equal channels)
//	features.S+1               the 1x1 conv to the last channels (4x the last stage's,
//	                           or 1280 for V2)
//	avgpool                    global average, [N, C, 1, 1] as torch returns it
//	classifier.0, .1           Dropout (the identity) and the Linear; classifier
//	                           is the logits, the default layer
//
// torchvision scales B0's stages to B1..B7 by width_mult (channels, to a
// multiple of 8) and depth_mult (blocks per stage); the plugin computes
// them the same way. torchvision's B0 to B4 use BatchNorm2d's default eps
// (1e-5); B5 to B7 and every V2 use 1e-3, and so does each model here.
// The stochastic_depth of a block without a residual is a torch module
// that its forward never calls, so it is not a layer.
//
// Any input [N, 3, H, W] runs; each arch's default input is the eval crop
// of torchvision's ImageNet weights (224 for B0 up to 600 for B7, 384
// for V2-S, 480 for V2-M and V2-L).
//
// # Weights
//
// Torchvision state_dicts (.pth or .safetensors) load by key, strictly;
// num_classes (default 1000) is read from classifier.1's weight. A
// checkpoint of another variant is refused with the variant it fits.
// Without weights a model gets a seeded random init shaped like
// torchvision's.
//
// The binary gozoo-backbone-efficientnet (cmd/gozoo-backbone-efficientnet)
// serves New over the plugin protocol.
package efficientnet
