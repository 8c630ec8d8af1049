// Package resnet is gozoo's ResNet backbone: resnet18, resnet34,
// resnet50, resnet101, resnet152, resnext50_32x4d, resnext101_32x8d,
// wide_resnet50_2 and wide_resnet101_2, exactly as torchvision 0.14
// defines them, built in Go with sdk/nn and run on ONNX Runtime.
//
// Torchvision state_dicts (.pth or .safetensors) load by key, strictly;
// without weights a model gets a seeded random init shaped like
// torchvision's (kaiming-normal convolutions, unit BatchNorm). The option
// num_classes (default 1000) sets fc's output features.
//
// Every torchvision module is a feature layer, named by its module path:
// conv1, bn1, relu, maxpool, layer1..layer4, each block ("layer3.5"), each
// block's modules ("layer3.5.conv2", "layer2.0.downsample.0"), avgpool
// (shape [N, C, 1, 1] as torch returns it) and fc. A block calls its one
// relu module several times; the layer "layer3.5.relu" is its last call,
// the block's output, which is what a forward hook's last call sees.
// Extract computes any set of layers in one forward pass of an ONNX
// Runtime session built for exactly that set; a model keeps a couple of
// such sessions.
//
// The binary gozoo-backbone-resnet (cmd/gozoo-backbone-resnet) serves
// New over the plugin protocol.
package resnet
