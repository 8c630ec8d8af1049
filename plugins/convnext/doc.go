// Package convnext is gozoo's ConvNeXt backbone: torchvision 0.14's
// convnext_tiny, convnext_small, convnext_base and convnext_large, built
// in Go with sdk/nn and run on ONNX Runtime. The binary is
// gozoo-backbone-convnext.
//
// Torchvision state_dicts load by key, strictly; a checkpoint sets
// num_classes (classifier.2). The graph is torchvision's ConvNeXt.forward
// in eval mode: StochasticDepth is the identity, and each block is
//
//	x + layer_scale * Permute(Linear(GELU(Linear(LayerNorm(Permute(dwconv7x7(x)))))))
//
// with the LayerNorm over the channels of the channels-last map.
// LayerNorm2d (stem, downsampling, classifier.0) is torchvision's:
// permute to channels-last, layer_norm, permute back.
//
// Layers are torchvision's module paths: features.0 (the stem,
// Conv2dNormActivation, with features.0.0 and features.0.1), the stages
// features.1, .3, .5 and .7 (Sequential of CNBlock) with each block's
// block.0 ... block.6 and stochastic_depth (whose output is
// layer_scale * block(x), what the residual adds), the downsampling
// layers features.2, .4 and .6 (LayerNorm2d, Conv2d), avgpool,
// classifier, classifier.0 (the pooled features normalised),
// classifier.1 (those flattened, [N, C]: the usual image embedding) and
// classifier.2 (the logits).
//
// Any image at least 32x32 runs (torchvision's min_size); the stem and
// the downsampling convolutions floor odd sizes as torch does. One graph
// (and one ONNX Runtime session) serves every image size.
package convnext
