// Package mobilenet is gozoo's backbone of torchvision's mobile networks,
// exactly as torchvision 0.14 defines them, built in Go with sdk/nn and
// run on ONNX Runtime:
//
//   - mobilenet_v2;
//   - mobilenet_v3_large and mobilenet_v3_small (BatchNorm eps 1e-3,
//     Hardswish, squeeze-excitation with a Hardsigmoid gate);
//   - mnasnet0_5, mnasnet0_75, mnasnet1_0 and mnasnet1_3 (MNASNet-B1;
//     its BatchNorm keeps torch's eps 1e-5, only its momentum differs);
//   - shufflenet_v2_x0_5, shufflenet_v2_x1_0, shufflenet_v2_x1_5 and
//     shufflenet_v2_x2_0 (channel shuffle).
//
// Torchvision state_dicts (.pth or .safetensors) load by key, strictly;
// the option num_classes (default 1000) is read from the checkpoint's
// last Linear when not given. MNASNet checkpoints saved before
// torchvision 0.5 with alpha != 1 have a version-1 stem (32 and 16
// channels); torchvision rebuilds the stem for them, and so does the
// option v1_stem, which the checkpoint's shapes set. Without weights a
// model gets a seeded random init (kaiming-normal convolutions, unit
// BatchNorm, torch's default Linear init).
//
// Every torchvision module that the forward pass calls is a feature
// layer, named by its module path and class, so the names agree with
// torch's named_modules and with the module names of torchvision's
// feature extraction (get_graph_node_names):
//
//	mobilenet_v2        features.0 .. features.18, features.3.conv.1.0, classifier.1
//	mobilenet_v3_large  features.0 .. features.16, features.4.block.2.fc1, avgpool, classifier.0 .. 3
//	mobilenet_v3_small  features.0 .. features.12, avgpool, classifier.0 .. 3
//	mnasnetX            layers.0 .. layers.16, layers.8.0.layers.3, classifier.1
//	shufflenet_v2_xX    conv1, maxpool, stage2 .. stage4, stage3.0.branch1, conv5, fc
//
// Where torchvision pools with a function rather than a module, the
// pooled features are a layer too, named as torch.fx names the call:
// "adaptive_avg_pool2d" ([N, C, 1, 1]) and "flatten" ([N, C]) in
// mobilenet_v2, "flatten" after avgpool in mobilenet_v3, and "mean"
// ([N, C], x.mean([2, 3])) in MNASNet and ShuffleNetV2. Residual
// additions and channel shuffles are not layers: a block's output is its
// module's. ShuffleNetV2's stride-1 blocks hold an empty, never called
// branch1, which is no layer. Dropout is the identity, as in eval mode.
// Extract returns the last Linear (the logits) when no layer is named.
//
// Inputs are [N, 3, H, W] float32 of any size (torchvision's min_size is
// 1x1); the default is 224x224. One ONNX Runtime session serves every
// size and batch.
//
// The binary gozoo-backbone-mobilenet (cmd/gozoo-backbone-mobilenet)
// serves New over the plugin protocol.
package mobilenet
