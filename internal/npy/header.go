package npy

import (
	"bufio"
	"fmt"
	"os"
	"strconv"

	"github.com/gozoo/gozoo/sdk"
)

// Header is what a .npy file says about its array before the data.
type Header struct {
	DType   string // numpy's name: "float32", "uint8", "bool", ...
	Shape   []int64
	Fortran bool
}

// String formats the header as "uint8[2, 3, 32, 32]".
func (h Header) String() string { return h.DType + sdk.FormatShape(h.Shape) }

// ReadHeader reads only the header of the .npy file at path: the dtype the
// file stores (before Read converts it) and the shape.
func ReadHeader(path string) (Header, error) {
	f, err := os.Open(path)
	if err != nil {
		return Header{}, fmt.Errorf("npy: %w", err)
	}
	defer f.Close()
	h, _, err := readHeader(bufio.NewReader(f))
	if err != nil {
		return Header{}, fmt.Errorf("%s: %w", path, err)
	}
	d, err := parseDescr(h.descr)
	if err != nil {
		return Header{}, fmt.Errorf("%s: %w", path, err)
	}
	return Header{DType: d.name(), Shape: h.shape, Fortran: h.fortran}, nil
}

// name returns numpy's name of d, "big-endian " first when it is.
func (d dtype) name() string {
	var n string
	switch d.kind {
	case 'f':
		n = "float" + strconv.Itoa(8*d.size)
	case 'i':
		n = "int" + strconv.Itoa(8*d.size)
	case 'u':
		n = "uint" + strconv.Itoa(8*d.size)
	case 'b':
		n = "bool"
	}
	if d.bigEndian && d.size > 1 {
		n = "big-endian " + n
	}
	return n
}
