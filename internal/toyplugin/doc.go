// Package toyplugin is a tiny, deterministic, pure-Go backbone used to test
// the plugin protocol end to end without ONNX Runtime: architecture "toy"
// takes [N, dim] float32 rows and offers the layers
//
//	lin   Linear  [N, dim]  2*x (weight 2*I, bias 0)
//	sum   Sum     [N, 1]    per-row sum of x
//	head  Linear  [N, 2]    lin @ head.weight^T (head.weight seeded by Seed)
//
// with parameters lin.weight, lin.bias and head.weight. Load options:
// dim (default 4), delay_ms (sleep per Extract, to make batches slow) and
// seed_file (a path option: an integer added to Seed, read from a file
// whose path must arrive absolute).
// Its models implement sdk.Trainer (SGD on head.weight with softmax cross
// entropy) but not sdk.Exporter. The binary gozoo-backbone-toy serves it;
// TOY_NAME overrides the name it describes itself with.
package toyplugin
