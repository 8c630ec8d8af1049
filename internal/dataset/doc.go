// Package dataset lists the images gozoo extract reads, in a deterministic
// order, and decodes them.
//
//   - Folder: every image file under a directory (recursively), sorted by
//     path; no labels.
//   - ImageFolder: torchvision's ImageFolder layout, one sub-folder per
//     class; classes sorted by name get labels 0..K-1 and samples come in
//     torchvision's order (class, then folder, then file name).
//   - List: a text file of paths, one a line, optionally "PATH<TAB>LABEL";
//     relative paths are relative to the list's folder.
//   - IDX: MNIST/Fashion-MNIST image files (idx3-ubyte, gzipped or not),
//     with labels from the matching labels file when it is beside them.
//
// Shard(i, n) keeps every n-th sample from the i-th, so n machines with
// i = 0..n-1 take disjoint parts that together cover the dataset.
package dataset
