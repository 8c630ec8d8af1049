// Package npy reads and writes numpy's .npy and .npz files as sdk.Tensor
// values, so that arrays pass between gozoo and Python without pickles.
//
// Write and WriteFile produce float32 ('<f4') and int64 ('<i8') arrays;
// WriteFile replaces its target atomically. Read and ReadFile accept
// little- or big-endian float16/32/64 (returned as float32), signed and
// unsigned integers up to 32 bits, int64 and bool (returned as int64), in C
// or Fortran order; anything else is refused with a clear error. Headers
// are checked against the data that follows, so a damaged or lying file
// fails cleanly instead of causing a huge allocation.
//
// An NPZ file is a zip of .npy members, one per named array, as written by
// numpy.savez and numpy.savez_compressed:
//
//	w, err := npy.Create("features.npz")
//	err = w.Add("layer4", t)
//	err = w.Close() // renames into place; nothing is left on failure
//
//	arrays, order, err := npy.ReadNPZ("features.npz")
package npy
