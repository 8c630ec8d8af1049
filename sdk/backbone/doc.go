// Package backbone is the runtime every Go backbone plugin shares: it
// implements sdk.Backbone and sdk.Model once, over sdk/nn graphs, ONNX
// Runtime sessions (sdk/ort) and the checkpoint bridge, so that a family
// of architectures is its architecture code and little else.
//
// A family lists its architectures (Arch): name, doc, typed options with
// defaults, and New, which turns parsed options into a Net, the configured
// architecture that records its forward pass into an nn.Builder for an
// input shape. Optional hooks adapt a checkpoint's keys (Arch.Adapt), read
// the options a checkpoint's shapes determine (Arch.Infer), check inputs
// with family-specific hints (InputChecker, InputHinter), feed further
// graph inputs such as sequence lengths (ExtraInputs), check a checkpoint
// in the family's terms before the strict match (WeightsChecker), ignore
// checkpoint keys the options leave unused (Ignorer) and explain a
// checkpoint that does not fit (Hinter). Image nets embed Image for their
// input and default layer, read num_classes with InferClasses and check
// minimum sizes with CheckImage.
//
// The runtime owns the rest, the same for every family:
//
//   - options: unknown names are errors with a suggestion; values are
//     parsed by kind; an option the user set that contradicts the
//     checkpoint is an error naming both values; options the checkpoint
//     determines are taken from it;
//   - weights: strict matching (every key, no extra one, every shape), a
//     seeded init when there is no checkpoint, key prefixes stripped with
//     the strip_prefix option;
//   - one session cache per model: sessions are keyed by the graph they
//     run (the requested layers and whatever the input size changes in
//     the graph), counted by their users and evicted least recently used.
//     The model holds its weights only until a session holds them; a new
//     session reads the checkpoint (or draws the seeded init) again, so a
//     model's memory is its sessions';
//   - layer lists and graphs cached per input shape;
//   - the Extract checks (closed model, input dtype, shape, layer names,
//     extra inputs), Params, SetTrainable, Close and the device list;
//   - Export to ONNX: the graph the model runs, its weights inside and
//     the requested layers as outputs (what gozoo quantize starts from).
//
// Image classifiers whose checkpoints determine only num_classes (most of
// torchvision's) are a ClassifierFamily: a build function per arch, the
// head's name and the default input size. Hint (with Fits) names the arch
// of a family that a mismatched checkpoint was saved from.
//
// A plugin's main is then:
//
//	func main() { plugin.Main(backbone.New(family)) }
package backbone
