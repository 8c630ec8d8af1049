// Package inception is gozoo's Inception backbone: inception_v3
// (Inception3) and googlenet (Inception v1), exactly as torchvision 0.14
// defines them, built in Go with sdk/nn and run on ONNX Runtime.
//
// Options: num_classes (default 1000; a checkpoint sets it from its fc);
// aux_logits (default true, as torchvision's classes) builds the aux
// heads, AuxLogits for inception_v3 and aux1, aux2 for googlenet, which
// then are feature layers computed where training mode calls them; a
// checkpoint without aux heads sets it false, and with aux_logits=false a
// checkpoint's aux keys are accepted and ignored, as torchvision's
// builders do when they load pretrained weights; transform_input (default
// false) applies torchvision's _transform_input, which the pretrained
// weights expect.
//
// Torchvision state_dicts (.pth or .safetensors) load by key, strictly;
// without weights a model gets a seeded random init shaped like
// torchvision's. Every torchvision module is a feature layer, named by its
// module path: Conv2d_1a_3x3 ... Mixed_5b ... Mixed_7c and every branch
// inside (Mixed_6e.branch7x7dbl_3, Mixed_6e.branch7x7dbl_3.conv, ...bn),
// avgpool, dropout and fc; for googlenet conv1 ... inception3a.branch2.1
// ... inception5b, avgpool, dropout and fc. inception_v3 takes inputs of
// at least 75x75 (its aux head needs about 299x299), googlenet of at
// least 15x15.
//
// The family runs on the shared runtime sdk/backbone; the binary
// gozoo-backbone-inception (cmd/gozoo-backbone-inception) serves New over
// the plugin protocol.
package inception
