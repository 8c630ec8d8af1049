// Package nn builds ONNX graphs the way a PyTorch nn.Module is written, so
// that a backbone defined in Go loads PyTorch state_dicts by key and every
// module is a selectable feature layer.
//
// A Builder records one forward pass. Modules are called by their
// attribute name inside the current scope, and containers open a scope:
//
//	b := nn.NewBuilder("ResNet")
//	x := b.Input("input", []int64{-1, 3, 224, 224}, 2, 3)
//	x = b.Conv2d("conv1", x, nn.Conv2d{In: 3, Out: 64, Kernel: nn.P(7), Stride: nn.P(2), Padding: nn.P(3)})
//	x = b.BatchNorm2d("bn1", x, 64)
//	x = b.Module("layer1", "Sequential", func() nn.Value { ... })
//
// The names follow PyTorch exactly: the parameters of module
// "layer3.5.conv2" are the initializers "layer3.5.conv2.weight" (and
// ".bias"), and its output is the graph tensor named "layer3.5.conv2". A
// container's output (layer3, layer3.5) is the output of its last module,
// exposed under the container's name when it is asked for as a graph
// output. A module called several times in one forward pass (a block's
// single ReLU) names its last call's output, as the last call of a PyTorch
// forward hook sees it; earlier calls' outputs are renamed "NAME#1",
// "NAME#2", ... An empty module name adds a functional op (torch.flatten,
// x + y) that is not a layer.
//
// The Builder computes every module's output shape in Go (batch -1), its
// parameter count (Layers), and the parameters and buffers a state_dict
// must hold (Specs). Weights holds their values, from a seeded random init
// shaped like PyTorch's defaults or from a state_dict. ONNX serialises the
// graph (opset 17) with any set of modules as outputs, pruning the nodes
// those outputs do not need and sharing the weights' float32 memory with
// the marshalled initializers instead of copying it twice.
//
// Declaring a parameter checks its size before anything is allocated: one
// over MaxTensorElements, or a model over DefaultMaxParams in all (or
// $GOZOO_MAX_PARAMS), makes Err an ErrTooLarge, so options that would make
// an absurd model (num_classes=100000000000) are refused by every backbone
// built here instead of exhausting its process.
//
// A Builder is not safe for concurrent use while it is being built; once
// built, its read-only methods (Layers, Specs, ONNX) may be called from
// several goroutines.
package nn
