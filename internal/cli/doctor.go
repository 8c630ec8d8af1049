package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/spf13/cobra"
)

// DoctorOptions configures gozoo doctor.
type DoctorOptions struct {
	f      *Factory
	Device string
	Python string
}

// NewCmdDoctor returns `gozoo doctor`.
func NewCmdDoctor(f *Factory, runF func(context.Context, *DoctorOptions) error) *cobra.Command {
	o := &DoctorOptions{f: f}
	cmd := &cobra.Command{
		Use:   "doctor [--device cuda:0]",
		Short: "Check the ONNX Runtime library, execution providers, PyTorch and plugins",
		Long: `Doctor reports the ONNX Runtime library (path and version), which execution
providers load and, for those that do not, which library is missing; the
PyTorch the torch plugin uses (version, CUDA); and every plugin with its
sha256. With --device it exits non-zero when that device cannot be used.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runDoctor(cmd.Context(), o)
		},
	}
	cmd.Flags().StringVar(&o.Device, "device", "", "device that must be usable: cpu, cuda, cuda:N or tensorrt")
	cmd.Flags().StringVar(&o.Python, "python", "", "Python with torch (default: $GOZOO_PYTHON or /usr/bin/python3)")
	return cmd
}

// torchInfo is what doctor learns about PyTorch.
type torchInfo struct {
	Version string
	CUDA    bool
	GPUs    int
	Err     error
}

func probeTorch(ctx context.Context, python string) torchInfo {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, python, "-c",
		"import torch, grpc, cryptography; print(torch.__version__, int(torch.cuda.is_available()), torch.cuda.device_count())").Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			lines := strings.Split(strings.TrimSpace(string(ee.Stderr)), "\n")
			err = fmt.Errorf("%s: %s", python, lines[len(lines)-1])
		}
		return torchInfo{Err: err}
	}
	var ti torchInfo
	var cuda int
	if _, err := fmt.Sscan(string(out), &ti.Version, &cuda, &ti.GPUs); err != nil {
		return torchInfo{Err: fmt.Errorf("%s: unexpected answer %q", python, out)}
	}
	ti.CUDA = cuda == 1
	return ti
}

func runDoctor(ctx context.Context, o *DoctorOptions) error {
	w := o.f.Out
	ok := func(b bool) string {
		if b {
			return "ok"
		}
		return "MISSING"
	}
	fmt.Fprintln(w, "ONNX Runtime")
	fmt.Fprintf(w, "  library  %s\n", ort.LibraryPath())
	version, verr := ort.Version()
	if verr != nil {
		fmt.Fprintf(w, "  version  unavailable: %v\n", verr)
	} else {
		fmt.Fprintf(w, "  version  %s\n", version)
	}
	devs := ort.Devices()
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  DEVICE\tPROVIDER\tSTATUS\tDETAIL")
	for _, d := range devs {
		detail := ""
		if d.Err != nil {
			var de *ort.DeviceError
			if errors.As(d.Err, &de) && len(de.Missing) > 0 {
				detail = "missing " + strings.Join(de.Missing, ", ")
			} else {
				detail = d.Err.Error()
			}
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", d.Device, d.Provider, ok(d.Available), detail)
	}
	tw.Flush()

	python := o.Python
	if python == "" {
		python = os.Getenv("GOZOO_PYTHON")
	}
	if python == "" {
		python = "/usr/bin/python3"
	}
	ti := probeTorch(ctx, python)
	fmt.Fprintln(w, "PyTorch (torch plugin)")
	if ti.Err != nil {
		fmt.Fprintf(w, "  unavailable: %v (make setup installs python3-torch)\n", ti.Err)
	} else {
		fmt.Fprintf(w, "  python   %s\n  version  %s\n  cuda     %v (%d GPUs)\n", python, ti.Version, ti.CUDA, ti.GPUs)
	}

	fmt.Fprintln(w, "Plugins")
	if h, err := o.f.Host(); err != nil {
		fmt.Fprintf(w, "  %v\n", err)
	} else if infos, err := h.Plugins(); err != nil {
		fmt.Fprintf(w, "  %v\n", err)
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  NAME\tSHA256\tPATH")
		for _, in := range infos {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", in.Name, in.SHA256, in.Path)
		}
		tw.Flush()
		if len(infos) == 0 {
			fmt.Fprintln(w, "  none found: run make build, or set GOZOO_PLUGIN_PATH")
		}
	}
	if o.Device == "" {
		return nil
	}
	return checkDevice(o.Device, devs, ti)
}

// checkDevice says whether dev can be used by ONNX Runtime (Go plugins) or
// PyTorch (the torch plugin), and fails when by neither.
func checkDevice(dev string, devs []ort.DeviceStatus, ti torchInfo) error {
	kind, idx, _ := strings.Cut(dev, ":")
	switch kind {
	case "cpu", "cuda", "tensorrt":
	default:
		return usageErrorf("--device %q: use cpu, cuda, cuda:N or tensorrt", dev)
	}
	if idx != "" {
		var n int
		if _, err := fmt.Sscan(idx, &n); err != nil || n < 0 || kind == "cpu" {
			return usageErrorf("--device %q: use cpu, cuda, cuda:N or tensorrt", dev)
		}
	}
	if kind == "cpu" {
		return nil
	}
	var why []string
	for _, d := range devs {
		if d.Device != kind {
			continue
		}
		if d.Available {
			return nil
		}
		why = append(why, fmt.Sprintf("ONNX Runtime: %v", d.Err))
	}
	if kind == "cuda" {
		var n int
		fmt.Sscan(idx, &n)
		switch {
		case ti.Err != nil:
			why = append(why, fmt.Sprintf("PyTorch: %v", ti.Err))
		case ti.CUDA && n < ti.GPUs:
			return nil
		case ti.CUDA:
			why = append(why, fmt.Sprintf("PyTorch sees %d GPUs", ti.GPUs))
		default:
			why = append(why, "PyTorch "+ti.Version+" has no CUDA device")
		}
	}
	return fmt.Errorf("%w: %s cannot be used: %s", sdk.ErrDeviceUnavailable, dev, strings.Join(why, "; "))
}
