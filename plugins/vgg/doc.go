// Package vgg is gozoo's VGG backbone: vgg11, vgg13, vgg16, vgg19 and
// their BatchNorm variants vgg11_bn ... vgg19_bn, exactly as torchvision
// 0.14 defines them, built in Go with sdk/nn and run on ONNX Runtime.
//
// Torchvision state_dicts (.pth or .safetensors) load by key, strictly;
// without weights a model gets a seeded random init shaped like
// torchvision's (kaiming-normal convolutions, unit BatchNorm). The option
// num_classes (default 1000) sets classifier.6's output features; a
// checkpoint sets it from its own classifier.6.
//
// Every torchvision module is a feature layer, named by its module path:
// features and each of its modules (features.0 ... every Conv2d,
// BatchNorm2d, ReLU and MaxPool2d), avgpool (AdaptiveAvgPool2d((7, 7)),
// [N, 512, 7, 7] for any input of at least 32x32, with torch's windows),
// classifier and classifier.0 ... classifier.6 (Dropout is the identity
// at inference). Extract computes any set of layers in one forward pass
// of an ONNX Runtime session built for exactly that set (and, for avgpool
// and the classifier, that input size, as their graphs differ between
// sizes); a model keeps a couple of such sessions. A session holds only
// the weights its layers need: the features alone are about a tenth of
// vgg16's 528 MB. The model itself holds none once its first session is
// made: a new session reads the checkpoint again, so the file must stay
// in place while the model is loaded, and sessions run without ONNX
// Runtime's memory arena, which would keep VGG's large activations.
//
// The family runs on the shared runtime sdk/backbone; the binary
// gozoo-backbone-vgg (cmd/gozoo-backbone-vgg) serves New over the plugin
// protocol.
package vgg
