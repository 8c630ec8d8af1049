// Package featfile writes extracted features to .npz or .safetensors with
// an index of the rows (path, label) in the same file, and lets a killed
// run resume without recomputing what it wrote.
//
// Rows go to OUT.partial/ in chunks, each committed by renaming its index
// file into place after its data is synced; Open on an existing
// OUT.partial/ of the same run continues after the last committed chunk.
// The folder's meta.json records the run's settings (Run: model, weights
// or seed, plugin, options, preprocessing, inputs) and layers; a run with
// other settings is refused with an error naming each difference, since
// resuming it would mix rows of two models. The folder is created with
// the first chunk, so a run that fails before its first batch leaves
// nothing behind. Finish assembles the output file atomically and removes
// the folder.
//
// In .npz output each layer is a float32 array [N, ...] named as the
// layer, "path" is a unicode array of the N source paths and "label" an
// int64 array (-1 without labels); skipped inputs are listed in
// "skipped_path" and "skipped_error". In .safetensors output the layers
// and "label" are tensors, and the metadata holds "paths", "skipped" (JSON).
package featfile
