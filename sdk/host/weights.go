package host

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
)

// weightsDir is a Client's private folder (0700) for checkpoints the host
// converted for a plugin, made on first use. Each converted file lives
// until the model loaded from it is closed; Client.Close removes the
// folder with whatever is left in it.
type weightsDir struct {
	mu     sync.Mutex
	dir    string
	closed bool
}

// guessFormat names a checkpoint's format by its file extension, as the
// plugins guess it; "" when the extension says nothing.
func guessFormat(path string) sdk.WeightsFormat {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".pth", ".pt", ".bin", ".ckpt", ".tar":
		return sdk.FormatPTH
	case ".safetensors":
		return sdk.FormatSafetensors
	case ".onnx":
		return sdk.FormatONNX
	}
	return sdk.FormatNone
}

// prepare returns the LoadRequest to send to a plugin with capabilities
// caps. When the plugin reads req's checkpoint format itself, that is req
// unchanged and release does nothing. Otherwise the host reads the
// checkpoint with the bridge (an allow-listed unpickler over a CRC-checked
// zip, so no code in the file runs) and writes its tensors as a
// safetensors file in the private folder; the returned request names that
// file, and release removes it. The caller calls release once the model is
// closed (or failed to load).
func (w *weightsDir) prepare(req *sdk.LoadRequest, plugin string, caps sdk.Capabilities) (*sdk.LoadRequest, func() error, error) {
	nop := func() error { return nil }
	if req.WeightsPath == "" {
		return req, nop, nil
	}
	format := req.WeightsFormat
	if format == sdk.FormatNone {
		format = guessFormat(req.WeightsPath)
	}
	if format != sdk.FormatNone && caps.ReadsWeights(format) {
		return req, nop, nil
	}
	if !caps.ReadsWeights(sdk.FormatSafetensors) || format == sdk.FormatONNX {
		return nil, nil, fmt.Errorf("%w: weights %s (%s): plugin %s reads only %v checkpoints: convert the file to one of them",
			sdk.ErrWeights, req.WeightsPath, formatName(format), plugin, caps.WeightsFormats)
	}
	sd, err := bridge.Load(req.WeightsPath)
	if err != nil {
		hint := ""
		if errors.Is(err, bridge.ErrUnsafePickle) {
			hint = "; a TorchScript file loads only when asked for by name (arch torchscript, option file=PATH)"
		}
		return nil, nil, fmt.Errorf("%w: plugin %s reads checkpoints the host converts, and the host refused %s%s: %w",
			sdk.ErrWeights, plugin, req.WeightsPath, hint, err)
	}
	path, err := w.write(sd, filepath.Base(req.WeightsPath))
	if err != nil {
		return nil, nil, fmt.Errorf("host: convert weights %s for plugin %s: %w", req.WeightsPath, plugin, err)
	}
	out := *req
	out.WeightsPath, out.WeightsFormat = path, sdk.FormatSafetensors
	var once sync.Once
	var rerr error
	release := func() error {
		once.Do(func() {
			if err := os.RemoveAll(filepath.Dir(path)); err != nil {
				rerr = fmt.Errorf("host: remove converted weights: %w", err)
			}
		})
		return rerr
	}
	return &out, release, nil
}

func formatName(f sdk.WeightsFormat) string {
	if f == sdk.FormatNone {
		return "format unknown from its extension"
	}
	return string(f)
}

// write stores sd as a new safetensors file named name, in a folder of its
// own inside w's, and returns its path. The file keeps the user's file
// name, so that a plugin's messages about it name the file the user gave;
// the request says its format.
func (w *weightsDir) write(sd *bridge.StateDict, name string) (string, error) {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return "", fmt.Errorf("%w: the host client is closed", sdk.ErrClosed)
	}
	if w.dir == "" {
		d, err := os.MkdirTemp("", "gozoo-weights-") // mode 0700
		if err != nil {
			w.mu.Unlock()
			return "", err
		}
		w.dir = d
	}
	dir := w.dir
	w.mu.Unlock()
	sub, err := os.MkdirTemp(dir, "w-")
	if err != nil {
		return "", err
	}
	f, err := os.OpenFile(filepath.Join(sub, name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		os.RemoveAll(sub)
		return "", err
	}
	err = bridge.WriteSafetensors(f, sd)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.RemoveAll(sub)
		return "", err
	}
	return f.Name(), nil
}

// remove deletes the folder and every converted file left in it. It is
// idempotent; later conversions fail with sdk.ErrClosed.
func (w *weightsDir) remove() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.dir == "" {
		return nil
	}
	dir := w.dir
	w.dir = ""
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("host: remove converted weights folder: %w", err)
	}
	return nil
}
