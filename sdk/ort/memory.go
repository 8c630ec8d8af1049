package ort

import (
	"fmt"

	"github.com/gozoo/gozoo/sdk"
)

// WithMemoryArena turns ONNX Runtime's CPU memory arena on (the default)
// or off. The arena keeps the largest activations of past runs allocated
// (rounded up to powers of two) to reuse them; without it, each Run
// allocates and frees its buffers. A model with large activations and
// weights (VGG at 224x224) peaks at several hundred MB less without it,
// at about the same speed.
func WithMemoryArena(enabled bool) Option {
	return func(c *config) error {
		if c.arenaSet && c.arena != enabled {
			return fmt.Errorf("%w: memory arena set twice (%v and %v): give WithMemoryArena once", sdk.ErrBadOption, c.arena, enabled)
		}
		c.arena, c.arenaSet = enabled, true
		return nil
	}
}

// WithOutputSubsets(false) makes the session keep no copy of the model
// bytes once ONNX Runtime has loaded them: Run then computes every output
// whatever it is asked for, and returns those asked for. Use it for a
// model whose outputs are all wanted on every Run, to save the copy of
// its weights that subset sessions would need (about the model's size).
// The default, true, gives each distinct subset of outputs its own
// session (see Session.Run).
func WithOutputSubsets(enabled bool) Option {
	return func(c *config) error {
		if c.subsetsSet && c.noSubsets == enabled {
			return fmt.Errorf("%w: output subsets set twice (%v and %v): give WithOutputSubsets once", sdk.ErrBadOption, !c.noSubsets, enabled)
		}
		c.noSubsets, c.subsetsSet = !enabled, true
		return nil
	}
}

// WithOptimizedModelPath makes ONNX Runtime write the graph it runs, after
// its graph optimizations (operator fusions, and for quantized models the
// QDQ fusions into QLinearConv and the like), as an ONNX file at path when
// the session is created. It is a tool for seeing which operators a model
// runs as: the file may use operators only ONNX Runtime knows. Combine it
// with WithOutputSubsets(false), or the file is written again, over the
// first, for every subset session.
func WithOptimizedModelPath(path string) Option {
	return func(c *config) error {
		if path == "" {
			return fmt.Errorf("%w: optimized model path is empty", sdk.ErrBadOption)
		}
		if c.optimized != "" && c.optimized != path {
			return fmt.Errorf("%w: optimized model path set twice (%s and %s): give WithOptimizedModelPath once", sdk.ErrBadOption, c.optimized, path)
		}
		c.optimized = path
		return nil
	}
}
