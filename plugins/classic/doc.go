// Package classic is gozoo's backbone of torchvision's classic
// classifiers, exactly as torchvision 0.14 defines them, built in Go with
// sdk/nn and run on ONNX Runtime:
//
//   - alexnet (torchvision's variant of "one weird trick");
//   - squeezenet1_0 and squeezenet1_1 (Fire modules, ceil-mode pools);
//   - densenet121, densenet161, densenet169 and densenet201.
//
// Torchvision state_dicts (.pth or .safetensors) load by key, strictly;
// the option num_classes (default 1000) is read from the checkpoint's
// classifier when not given. DenseNet checkpoints saved before torch 0.4
// name their dense layers' modules "norm.1", "conv.2", ... for "norm1",
// "conv2" (torchvision's own ImageNet weights do): they are renamed with
// torchvision's pattern before anything reads them, as torchvision's
// _load_state_dict renames them. Without weights a model gets a seeded
// random init (torch's default conv and Linear init; kaiming-normal
// convolutions and unit BatchNorm for DenseNet; SqueezeNet's final conv
// from N(0, 0.01)).
//
// Every torchvision module the forward pass calls is a feature layer,
// named by its module path and class, so the names agree with torch's
// named_modules and with torchvision's feature extraction
// (get_graph_node_names):
//
//	alexnet        features.0 .. features.12, avgpool, classifier.0 .. classifier.6
//	squeezenet1_x  features.0 .. features.12, features.3.expand3x3, classifier.0 .. classifier.3
//	densenetN      features.conv0, features.denseblock1.denselayer6.conv2, features.transition1.pool, features.norm5, classifier
//
// torchvision's function calls after the features are layers too, named
// as torch.fx names them: "flatten" in every net ([N, 9216] after
// AlexNet's avgpool; SqueezeNet's output, the logits [N, classes]), and
// in DenseNet "relu" (F.relu of features), "adaptive_avg_pool2d" ([N, C,
// 1, 1]) and "flatten" ([N, C]). torch.cat inside Fire and the dense
// blocks is no layer: a Fire module's output is the concatenation, and a
// dense block's output is its input and every dense layer's output
// concatenated. Dropout is the identity, as in eval mode. Extract returns
// the net's output as torch returns it (classifier.6, flatten,
// classifier) when no layer is named.
//
// Inputs are [N, 3, H, W] float32 no smaller than torchvision's min_size
// (63 for alexnet, 21 and 17 for SqueezeNet, 29 for DenseNet); the
// default is 224x224. AlexNet's avgpool (AdaptiveAvgPool2d((6, 6)))
// takes torch's windows for the input size, so its graph is built for
// each size; the others' serve every size and batch.
//
// The binary gozoo-backbone-classic (cmd/gozoo-backbone-classic) serves
// New over the plugin protocol.
package classic
