package cli

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/torch"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

// writeRawNPY writes a .npy of descr (e.g. "|u1") and shape holding zeros.
func writeRawNPY(t *testing.T, path, descr string, shape []int64, itemSize int) {
	t.Helper()
	dims := make([]string, len(shape))
	for i, d := range shape {
		dims[i] = fmt.Sprint(d)
	}
	dict := fmt.Sprintf("{'descr': '%s', 'fortran_order': False, 'shape': (%s,), }", descr, strings.Join(dims, ", "))
	dict += strings.Repeat(" ", 63-(10+len(dict))%64) + "\n"
	b := append([]byte("\x93NUMPY\x01\x00"), 0, 0)
	binary.LittleEndian.PutUint16(b[8:], uint16(len(dict)))
	b = append(b, dict...)
	b = append(b, make([]byte, int(sdk.NumElements(shape))*itemSize)...)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestInputErrorMessages feeds inputs of the wrong dtype, rank or
// channels to gozoo extract and checks that each message shows the dtype
// and shape seen (and, for .npy files, the dtype the file stores) next to
// what the model wants, for the Go plugins, the onnx plugin and the torch
// plugin.
func TestInputErrorMessages(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dirs := []string{testenv.BuildPlugin(t, "resnet"), testenv.BuildPlugin(t, "lstm"), testenv.BuildPlugin(t, "onnx")}
	hasTorch := false
	if py := testenv.Python(t); py != "" {
		dir := t.TempDir()
		if _, err := torch.WriteManifest(dir, py, torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "1"}); err != nil {
			t.Fatal(err)
		}
		dirs, hasTorch = append(dirs, dir), true
	}
	dir := t.TempDir()
	file := func(name string) string { return filepath.Join(dir, name) }
	writeInput(t, file("gray.npy"), 2, 1, 16, 16)
	writeInput(t, file("rgb.npy"), 2, 3, 16, 16)
	if err := npy.WriteFile(file("ids.npy"), &sdk.Tensor{Shape: []int64{2, 3, 8, 8}, Int64: make([]int64, 384)}); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(file("rank3.npy"), sdk.Zeros(3, 16, 16)); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(file("seq.npy"), sdk.Zeros(2, 5)); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(file("feat4.npy"), sdk.Zeros(2, 5, 4)); err != nil {
		t.Fatal(err)
	}
	if err := npy.WriteFile(file("tok.npy"), &sdk.Tensor{Shape: []int64{2, 7}, Int64: make([]int64, 14)}); err != nil {
		t.Fatal(err)
	}
	writeRawNPY(t, file("u8.npy"), "|u1", []int64{2, 3, 8, 8}, 1)
	writeSeqONNX(t, file("seq.onnx"))
	if err := os.WriteFile(file("short.npy"), []byte("\x93NUMPY\x01\x00\x76"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		args  []string
		want  []string
		torch bool
	}{
		{"channels", []string{"--arch", "resnet18", "gray.npy"},
			[]string{"extract gray.npy (float32[2, 1, 16, 16])", "input (float32) has shape [2, 1, 16, 16]; want float32 [N, 3, *, *]"}, false},
		{"int64 ids to an image model", []string{"--arch", "resnet18", "ids.npy"},
			[]string{"input (int64) has shape [2, 3, 8, 8]; want float32 [N, 3, *, *]: convert the input to float32"}, false},
		{"uint8 file", []string{"--arch", "resnet18", "u8.npy"},
			[]string{"extract u8.npy (uint8[2, 3, 8, 8], read as int64)", "input (int64) has shape [2, 3, 8, 8]; want float32"}, false},
		{"rank", []string{"--arch", "resnet18", "rank3.npy"},
			[]string{"input (float32) has shape [3, 16, 16]; want float32 [N, 3, *, *]"}, false},
		{"floats to an embedding", []string{"--arch", "lstm", "--opt", "num_embeddings=50,input_size=8", "seq.npy"},
			[]string{"input (float32) has shape [2, 5]; want int64 [N, *]: give token ids"}, false},
		{"features", []string{"--arch", "lstm", "--opt", "input_size=8", "feat4.npy"},
			[]string{"input (float32) has shape [2, 5, 4]; want float32 [N, *, 8]"}, false},
		{"onnx dtype", []string{"--onnx", "seq.onnx", "tok.npy"},
			[]string{"input (int64) has shape [2, 7]; want float32 [N, *]: convert the input to float32"}, false},
		{"torch channels", []string{"--arch", "resnet18", "--plugin", "torch", "gray.npy"},
			[]string{"input (float32) has shape [2, 1, 16, 16]; want float32 [N, 3, *, *]"}, true},
		{"torch dtype", []string{"--arch", "resnet18", "--plugin", "torch", "ids.npy"},
			[]string{"input (int64) has shape [2, 3, 8, 8]; want float32 [N, 3, *, *]"}, true},
		{"truncated npy", []string{"--arch", "resnet18", "short.npy"},
			[]string{"short.npy", "truncated header"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.torch && !hasTorch {
				t.Skip("no PyTorch")
			}
			t.Chdir(dir)
			layer := "fc"
			if tc.args[1] == "lstm" {
				layer = "lstm"
			}
			if tc.args[0] == "--onnx" {
				layer = "y"
			}
			args := append([]string{"--plugin-path", strings.Join(dirs, ","), "extract", "--layers", layer, "--out", "out.npz"}, tc.args...)
			_, _, err := execute(t, &Factory{}, args...)
			if err == nil {
				t.Fatal("extract succeeded; want an error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nlacks %q", err, w)
				}
			}
		})
	}
}
