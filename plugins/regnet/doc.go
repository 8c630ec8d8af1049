// Package regnet is gozoo's RegNet backbone: every RegNetX and RegNetY
// torchvision 0.14 defines (regnet_x_400mf, _800mf, _1_6gf, _3_2gf,
// _8gf, _16gf, _32gf and regnet_y_400mf to regnet_y_32gf and
// regnet_y_128gf), built in Go with sdk/nn and run on ONNX Runtime.
//
// # Layout
//
// Each arch is torchvision's call of BlockParams.from_init_params (depth,
// w_0, w_a, w_m, group width; RegNetY adds squeeze-excitation with ratio
// 0.25), from which the plugin computes the stages as torchvision does:
// per-block widths quantised to multiples of 8 in float32, runs of equal
// widths as stages, widths and group widths made compatible. Every
// torchvision module is a feature layer, named by its module path:
//
//	stem                          SimpleStemIN: 3x3 stride-2 conv to 32, BatchNorm, ReLU
//	trunk_output.blockS           the stages (AnyStage), S = 1..4
//	trunk_output.blockS.blockS-B  a ResBottleneckBlock: proj (a 1x1 conv and
//	                              BatchNorm, when the shape changes), f (the
//	                              BottleneckTransform a, b (grouped 3x3), se (RegNetY),
//	                              c) and activation, the ReLU of their sum
//	avgpool                       global average, [N, C, 1, 1] as torch returns it
//	fc                            the logits, the default layer
//
// Any input [N, 3, H, W] runs; the default is 224x224.
//
// # Weights
//
// Torchvision state_dicts (.pth or .safetensors) load by key, strictly;
// num_classes (default 1000) is read from fc's weight. A checkpoint of
// another variant is refused with the variant it fits. Without weights a
// model gets a seeded random init shaped like torchvision's.
//
// regnet_y_128gf has 644,812,894 parameters (2.6 GB of float32), more
// than one ONNX model holds with its weights inside (2 GiB): loading it
// fails with nn.ErrTooLarge until the runtime keeps weights outside the
// model. Its graph is there all the same (its layers and parameters are
// tested against torchvision's).
//
// The binary gozoo-backbone-regnet (cmd/gozoo-backbone-regnet) serves New
// over the plugin protocol.
package regnet
