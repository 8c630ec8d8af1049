package bridge

import (
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// StateDict is a checkpoint's named tensors, the Go form of a PyTorch
// state_dict. Keys lists the names in file order; Tensors holds one dense
// tensor per name. Floating tensors are float32, integer tensors (such as
// BatchNorm's num_batches_tracked) int64.
//
// A StateDict is a plain value: safe for concurrent reads, not for
// concurrent mutation.
type StateDict struct {
	Keys    []string
	Tensors map[string]*sdk.Tensor
	// Metadata holds a safetensors file's __metadata__ (nil for .pth).
	Metadata map[string]string
	// Source names the file the state_dict came from, for messages.
	Source string
}

// Load reads a checkpoint file, recognising its format by its first bytes
// rather than its extension: a torch.save zip archive (.pth, .pt, .bin),
// a legacy torch.save pickle, or a .safetensors file. See ReadPTH for what
// a .pth file may hold and how it is kept from running code.
func Load(path string) (*StateDict, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("load checkpoint: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("load %s: %w: is a directory; want a .pth or .safetensors file", path, ErrCorrupt)
	}
	size := st.Size()
	head := make([]byte, 9)
	n, _ := f.ReadAt(head, 0)
	head = head[:n]
	var sd *StateDict
	switch {
	case n == 0:
		err = fmt.Errorf("%w: empty file: re-download or re-save the checkpoint", ErrCorrupt)
	// Safetensors first: its header length may start with 0x80 or "PK",
	// while neither a zip nor a torch pickle has '{' at byte 8.
	case n == 9 && head[8] == '{' && binary.LittleEndian.Uint64(head) <= uint64(size-8):
		sd, err = ReadSafetensors(f, size)
	case strings.HasPrefix(string(head), "PK") || head[0] == 0x80:
		sd, err = ReadPTH(f, size)
	default:
		err = fmt.Errorf("%w: not a PyTorch checkpoint or safetensors file (starts with %q)", ErrCorrupt, head)
	}
	if err != nil {
		return nil, fmt.Errorf("load %s: %w", path, err)
	}
	sd.Source = path
	return sd, nil
}

// TrimPrefix removes prefix from every key when all keys start with it,
// as a checkpoint saved from nn.DataParallel ("module.") needs, and
// reports whether it did. Keys keep their order.
func (sd *StateDict) TrimPrefix(prefix string) bool {
	if prefix == "" || len(sd.Keys) == 0 {
		return false
	}
	for _, k := range sd.Keys {
		if !strings.HasPrefix(k, prefix) {
			return false
		}
	}
	renamed := make(map[string]*sdk.Tensor, len(sd.Tensors))
	for i, k := range sd.Keys {
		nk := strings.TrimPrefix(k, prefix)
		if _, dup := renamed[nk]; dup {
			return false
		}
		renamed[nk] = sd.Tensors[k]
		sd.Keys[i] = nk
	}
	sd.Tensors = renamed
	return true
}

// writeAll writes each of bs to w in turn.
func writeAll(w io.Writer, bs ...[]byte) error {
	for _, b := range bs {
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}
