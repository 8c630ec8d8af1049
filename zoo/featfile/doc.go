// Package featfile writes extracted features to .npz or .safetensors with
// an index of the rows (path, label) in the same file, lets a killed run
// resume without recomputing what it wrote, reads such files back and
// joins the shards of a split extraction into one file.
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
//
// Load reads either format back. A Manifest indexes the shards of an
// extraction split across workers (gozoo-beam writes one): each shard
// covers a contiguous range of input positions, and together they cover
// every input once. MergeManifest joins the shards in input order, and
// Merge joins files in the order given; both write through a Writer, so
// their output is the same file a single run writes, and a killed merge
// resumes.
//
// The package is public so that programs outside this module (gozoo-beam)
// write and read the very files gozoo extract does. A Writer is not safe
// for concurrent use; the functions are.
package featfile
