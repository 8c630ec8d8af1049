// Package quant quantizes float ONNX models to int8 after training
// (post-training static quantization), for ONNX Runtime's integer CPU
// kernels: a checkpoint exported as ONNX (sdk/backbone's Export, or any
// ONNX file with one input) becomes a model of a quarter of the size
// whose convolutions, matrix products, adds and pools run on 8-bit
// integers, while the requested layers stay float outputs.
//
// The steps are those of Quantizer:
//
//	q, err := quant.Prepare(model, quant.Options{Method: quant.Percentile, KeepFP32: []string{"fc"}})
//	err = q.Calibrate(ctx, batches)   // a few hundred inputs, preprocessed as for inference
//	int8, err := q.Model()            // ONNX bytes, run by ONNX Runtime (sdk/ort, plugin onnx)
//
// Prepare folds each BatchNormalization into the Conv before it (as
// PyTorch's eval mode computes it; FoldBatchNorm alone does only that)
// and decides what to quantize. Calibrate runs the float model over the
// calibration inputs and records the range of every tensor to quantize;
// Method turns the observations into ranges: MinMax, Percentile or
// Entropy (the KL-divergence threshold). Model writes the QDQ form:
// QuantizeLinear after each quantized tensor's producer and
// DequantizeLinear before each reader, int8 weights per output channel
// and int32 biases, in the patterns ONNX Runtime's QDQ transformers fuse
// into QLinearConv, QGemm, QLinearAdd, QLinearGlobalAveragePool and
// uint8 MaxPool. RuntimeOps shows what a model runs as after those
// fusions; Compare measures a quantized model against its float one.
//
// Activations are uint8 with a zero point (the type ONNX Runtime's x86
// kernels run fastest, with int8 weights), weights symmetric int8 in
// [-64, 64] unless Options.FullRangeWeights: x86 CPUs without VNNI sum
// uint8 x int8 products in int16, which 8-bit weights can saturate.
//
// Names stay those of the float model: a node's module (a PyTorch module
// path) selects it in Options.KeepFP32, and every graph output and
// intermediate tensor keeps its name, holding its dequantized value.
// Nothing here is safe for concurrent use of one Quantizer.
package quant
