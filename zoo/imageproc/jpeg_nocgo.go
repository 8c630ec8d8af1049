//go:build !cgo

package imageproc

import "fmt"

// decodeJPEG needs the system libjpeg through cgo; without cgo JPEGs are
// refused with an error that says how to build with it.
func decodeJPEG(b []byte) (*RGB, error) {
	return nil, fmt.Errorf("%w: jpeg decoding needs cgo and libjpeg: build with CGO_ENABLED=1 and a C compiler, with libjpeg62-turbo-dev installed (make setup does)", ErrFormat)
}
