package featfile

import (
	"archive/zip"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ErrBadFile reports a feature file whose class names do not parse.
var ErrBadFile = errors.New("featfile: bad feature file")

// ReadClasses returns the class names a feature file records (see
// Writer.SetClasses): those of its labels and those of the model's
// outputs, each nil when absent.
func ReadClasses(path string) (classes, modelClasses []string, err error) {
	if strings.HasSuffix(path, ".safetensors") {
		return readSafetensorsClasses(path)
	}
	z, err := zip.OpenReader(path)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
	}
	defer z.Close()
	out := map[string][]string{}
	for _, f := range z.File {
		name := strings.TrimSuffix(f.Name, ".npy")
		if name != "classes" && name != "model_classes" {
			continue
		}
		if f.UncompressedSize64 > 64<<20 {
			return nil, nil, fmt.Errorf("%w: %s: %s is %d bytes", ErrBadFile, path, f.Name, f.UncompressedSize64)
		}
		r, err := f.Open()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
		}
		b, err := io.ReadAll(io.LimitReader(r, 64<<20))
		r.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
		}
		ss, err := parseStrings(b)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s: %s: %v", ErrBadFile, path, f.Name, err)
		}
		out[name] = ss
	}
	return out["classes"], out["model_classes"], nil
}

var unicodeHeader = regexp.MustCompile(`^\{'descr': '<U(\d+)', 'fortran_order': False, 'shape': \((\d+),\), \}\s*$`)

// parseStrings reads a 1-D .npy of little-endian UTF-32 strings (<U),
// as writeStrings writes them.
func parseStrings(b []byte) ([]string, error) {
	if len(b) < 10 || string(b[:6]) != "\x93NUMPY" || b[6] != 1 {
		return nil, errors.New("not a version 1 .npy")
	}
	hl := int(binary.LittleEndian.Uint16(b[8:10]))
	if 10+hl > len(b) {
		return nil, errors.New("truncated header")
	}
	m := unicodeHeader.FindStringSubmatch(string(b[10 : 10+hl]))
	if m == nil {
		return nil, fmt.Errorf("header %q: want a 1-D <U array", b[10:10+hl])
	}
	width, err1 := strconv.Atoi(m[1])
	n, err2 := strconv.Atoi(m[2])
	data := b[10+hl:]
	if err1 != nil || err2 != nil || width < 1 || width > 1<<16 || n < 0 || int64(n)*int64(width)*4 != int64(len(data)) {
		return nil, fmt.Errorf("%d strings of %d characters do not fit %d bytes", n, width, len(data))
	}
	out := make([]string, n)
	for i := range out {
		var sb strings.Builder
		for j := 0; j < width; j++ {
			r := rune(binary.LittleEndian.Uint32(data[4*(i*width+j):]))
			if r == 0 {
				break
			}
			if !utf8.ValidRune(r) {
				return nil, fmt.Errorf("string %d holds code point %#x", i, uint32(r))
			}
			sb.WriteRune(r)
		}
		out[i] = sb.String()
	}
	return out, nil
}

func readSafetensorsClasses(path string) (classes, modelClasses []string, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("featfile: %w", err)
	}
	defer f.Close()
	var n uint64
	if err := binary.Read(f, binary.LittleEndian, &n); err != nil || n > 100<<20 {
		return nil, nil, fmt.Errorf("%w: %s: header size", ErrBadFile, path)
	}
	hb := make([]byte, n)
	if _, err := io.ReadFull(f, hb); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
	}
	var h struct {
		Meta map[string]string `json:"__metadata__"`
	}
	if err := json.Unmarshal(hb, &h); err != nil {
		return nil, nil, fmt.Errorf("%w: %s: %v", ErrBadFile, path, err)
	}
	for key, dst := range map[string]*[]string{"classes": &classes, "model_classes": &modelClasses} {
		if s, ok := h.Meta[key]; ok {
			if err := json.Unmarshal([]byte(s), dst); err != nil {
				return nil, nil, fmt.Errorf("%w: %s: metadata %s: %v", ErrBadFile, path, key, err)
			}
		}
	}
	return classes, modelClasses, nil
}
