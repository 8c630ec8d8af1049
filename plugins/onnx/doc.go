// Package onnx is gozoo's backbone plugin for any ONNX model: a user's
// .onnx file, exported by PyTorch or anything else, becomes a backbone
// whose layers can be extracted by PyTorch module path.
//
// torch.onnx.export names every node after the module scopes it ran in
// ("/layer3/layer3.1/relu/Relu"); the plugin maps each module path to the
// output of the last node inside that module, so "layer3.1.relu" and
// "layer3.1" both name that Relu's output, as a forward hook on the module
// would see it. A module called again gets a "_1" scope; its last call
// wins, as in gozoo's Go plugins. Raw node output names and the graph's
// own outputs are layers too. Requested layers become extra graph outputs,
// so one forward pass in ONNX Runtime serves them all:
//
//	gozoo extract --onnx model.onnx --layers layer3.1,fc --out feats.npz images.npy
//
// The model loads as arch "onnx" with the file as its weights path (or as
// option file=PATH). Modules whose nodes were folded away at export
// (batch-norm layers folded into their convolution) have no node and are
// not listed. Each layer's parameter count is the elements of the float
// initializers its module's nodes read (export's deduplicated copies
// included), so a module with batch norms kept counts their running
// statistics too.
//
// The first graph input is ExtractRequest.Input; a file with more inputs
// takes the others by name in ExtractRequest.Inputs, as float32 or int64
// with the declared shapes and the first input's batch.
//
// External data (tensors kept in files beside the .onnx, as
// onnx.save_model(save_as_external_data=True) writes them) is read by the
// plugin and inlined before ONNX Runtime sees the model, so the runtime
// opens no file itself. A location is followed only to a regular file
// inside the model file's folder: an absolute path, a ".." component or a
// symbolic link that leaves the folder is refused with an
// *ExternalDataError naming the location.
package onnx
