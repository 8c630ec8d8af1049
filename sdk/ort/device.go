package ort

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// Execution providers a Session can be asked for.
const (
	ProviderCPU      = "cpu"
	ProviderCUDA     = "cuda"
	ProviderTensorRT = "tensorrt"
)

// validDevices is shown in every bad-device message.
const validDevices = `"cpu", "cuda", "cuda:N" (N a GPU index) or "tensorrt"`

// device is a parsed WithDevice string.
type device struct {
	provider string // ProviderCPU, ProviderCUDA or ProviderTensorRT
	index    int    // GPU index for cuda and tensorrt
}

func (d device) String() string {
	if d.provider == ProviderCUDA && d.index != 0 {
		return d.provider + ":" + strconv.Itoa(d.index)
	}
	return d.provider
}

// parseDevice reads "cpu", "cuda", "cuda:N" or "tensorrt".
func parseDevice(s string) (device, error) {
	switch s {
	case "cpu", "":
		return device{provider: ProviderCPU}, nil
	case "cuda":
		return device{provider: ProviderCUDA}, nil
	case "tensorrt":
		return device{provider: ProviderTensorRT}, nil
	}
	if rest, ok := strings.CutPrefix(s, "cuda:"); ok {
		n, err := strconv.Atoi(rest)
		if err == nil && n >= 0 && rest == strconv.Itoa(n) {
			return device{provider: ProviderCUDA, index: n}, nil
		}
	}
	return device{}, fmt.Errorf("%w: unknown device %q: use %s", sdk.ErrBadOption, s, validDevices)
}

// DeviceError reports an execution provider that this ONNX Runtime library
// cannot use, naming the libraries it is missing. It matches
// sdk.ErrDeviceUnavailable.
type DeviceError struct {
	Device  string   // as requested, e.g. "cuda:0"
	Missing []string // shared libraries that could not be found or loaded
	Reason  string   // what went wrong, with what to do
}

func (e *DeviceError) Error() string {
	return fmt.Sprintf("device %s unavailable: %s", e.Device, e.Reason)
}

// Is makes errors.Is(err, sdk.ErrDeviceUnavailable) true.
func (e *DeviceError) Is(target error) bool { return target == sdk.ErrDeviceUnavailable }

// DeviceStatus says whether this process's ONNX Runtime library can run a
// device, and why not when it cannot.
type DeviceStatus struct {
	Device    string // "cpu", "cuda" or "tensorrt"
	Provider  string // ONNX Runtime's name, e.g. "CUDAExecutionProvider"
	Available bool
	Err       error // nil when Available; a *DeviceError or a library error otherwise
}

// Devices reports, for the CPU, CUDA and TensorRT execution providers,
// whether the loaded ONNX Runtime library can use them. It loads the
// library if needed; when that fails every entry carries the load error.
// A provider reported available may still fail at session creation, for
// example when no GPU is present; Devices only checks libraries.
func Devices() []DeviceStatus {
	out := []DeviceStatus{
		{Device: ProviderCPU, Provider: "CPUExecutionProvider"},
		{Device: ProviderCUDA, Provider: "CUDAExecutionProvider"},
		{Device: ProviderTensorRT, Provider: "TensorrtExecutionProvider"},
	}
	err := initialize()
	for i := range out {
		switch {
		case err != nil:
			out[i].Err = err
		case out[i].Device == ProviderCPU:
		default:
			if derr := checkProvider(device{provider: out[i].Device}); derr != nil {
				out[i].Err = derr
			}
		}
		out[i].Available = out[i].Err == nil
	}
	return out
}

// providerLibs lists, per provider, the ONNX Runtime plugin libraries that
// must sit beside libonnxruntime.so. CUDA's own libraries (libcudart,
// libcublas, libcudnn, TensorRT's libnvinfer) are dependencies of these, so
// loading them names whichever of those is missing.
var providerLibs = map[string][]string{
	ProviderCUDA:     {"libonnxruntime_providers_shared.so", "libonnxruntime_providers_cuda.so"},
	ProviderTensorRT: {"libonnxruntime_providers_shared.so", "libonnxruntime_providers_tensorrt.so", "libonnxruntime_providers_cuda.so"},
}

// checkProvider looks for every library dev's execution provider needs and
// returns a *DeviceError naming the missing ones, or nil.
func checkProvider(dev device) error {
	if dev.provider == ProviderCPU {
		return nil
	}
	dir := filepath.Dir(initPath)
	var missing, absent, reasons []string
	for _, name := range providerLibs[dev.provider] {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			missing = append(missing, name)
			absent = append(absent, name)
			continue
		}
		if msg := dlopenCheck(p); msg != "" {
			missing = append(missing, libraryIn(msg, name))
			reasons = append(reasons, "loading "+name+" fails: "+msg)
		}
	}
	if len(absent) > 0 {
		reasons = append([]string{fmt.Sprintf("%s not in %s (this onnxruntime build has no %s support)", strings.Join(absent, " and "), dir, dev.provider)}, reasons...)
	}
	if msg := dlopenCheck("libcuda.so.1"); msg != "" {
		missing = append(missing, "libcuda.so.1")
		reasons = append(reasons, "the NVIDIA driver library does not load ("+msg+")")
	}
	if len(missing) == 0 {
		return nil
	}
	hint := "install an ONNX Runtime GPU build (onnxruntime-gpu " + WantVersion + " with CUDA 12 and cuDNN 9"
	if dev.provider == ProviderTensorRT {
		hint += ", plus TensorRT 10"
	}
	hint += ") and set GOZOO_ORT_LIB to its libonnxruntime.so, or use device cpu"
	return &DeviceError{
		Device:  dev.String(),
		Missing: missing,
		Reason:  fmt.Sprintf("onnxruntime %s at %s: missing %s: %s: %s", initVersion, initPath, strings.Join(missing, ", "), strings.Join(reasons, "; "), hint),
	}
}

// libraryIn pulls the library name out of a dlerror message such as
// "libcublasLt.so.12: cannot open shared object file: ...", falling back to
// def.
func libraryIn(msg, def string) string {
	if i := strings.Index(msg, ": cannot open shared object file"); i > 0 {
		name := msg[:i]
		if j := strings.LastIndex(name, ": "); j >= 0 {
			name = name[j+2:]
		}
		return filepath.Base(name)
	}
	return def
}
