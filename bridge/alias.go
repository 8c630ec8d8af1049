package bridge

import "unsafe"

// hostLittleEndian reports whether float32 values in memory have the byte
// order of torch's storages, so that they can be used in place.
var hostLittleEndian = func() bool {
	x := uint16(1)
	return *(*byte)(unsafe.Pointer(&x)) == 1
}()

// aliasFloat32 returns the first n little-endian float32 values of raw as
// a []float32 sharing raw's memory, or false when the host's byte order or
// raw's alignment does not allow it. Sharing instead of decoding keeps a
// checkpoint's tensors at one copy in memory while it loads (raw is no
// longer needed once decoded, but its storage may back several tensors).
func aliasFloat32(raw []byte, n int64) ([]float32, bool) {
	if !hostLittleEndian || n <= 0 || int64(len(raw)) < 4*n || uintptr(unsafe.Pointer(&raw[0]))%4 != 0 {
		return nil, false
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&raw[0])), n), true
}
