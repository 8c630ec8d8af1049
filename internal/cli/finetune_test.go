package cli

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

func TestFinetuneFlags(t *testing.T) {
	var got *FinetuneOptions
	cmd := NewCmdFinetune(&Factory{}, func(_ context.Context, o *FinetuneOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--arch", "resnet18", "--weights", "W.pth", "--freeze", "*", "--unfreeze", "layer4.*,fc.*",
		"--data", "DIR", "--epochs", "3", "--out", "OUT", "--input-size", "32,48", "--optimizer", "adamw", "--backbone-lr", "0.001"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Model.Plugin != "" || got.Model.Arch != "resnet18" || got.Epochs != 3 || got.BackboneLR != 0.001 || got.Optimizer != "adamw" {
		t.Errorf("options = %+v", got)
	}
	if !reflect.DeepEqual(got.Freeze, []string{"*"}) || !reflect.DeepEqual(got.Unfreeze, []string{"layer4.*", "fc.*"}) || !reflect.DeepEqual(got.InputSize, []int{32, 48}) {
		t.Errorf("Freeze %q Unfreeze %q InputSize %v", got.Freeze, got.Unfreeze, got.InputSize)
	}
	if err := got.validate(); err != nil {
		t.Errorf("validate() = %v", err)
	}
}

func TestFinetuneUsage(t *testing.T) {
	ok := FinetuneOptions{Model: modelFlags{Arch: "resnet18"}, Data: "d", Out: "o", Epochs: 1, BatchSize: 1, InputSize: []int{32}}
	for _, tc := range []struct {
		name string
		edit func(*FinetuneOptions)
		want string
	}{
		{"arch", func(o *FinetuneOptions) { o.Model.Arch = "" }, "--arch"},
		{"data", func(o *FinetuneOptions) { o.Data = "" }, "--data"},
		{"out", func(o *FinetuneOptions) { o.Out = "" }, "--out"},
		{"epochs", func(o *FinetuneOptions) { o.Epochs = 0 }, "--epochs"},
		{"batch", func(o *FinetuneOptions) { o.BatchSize = 0 }, "--batch-size"},
		{"split", func(o *FinetuneOptions) { o.ValSplit = 1 }, "--val-split"},
		{"size", func(o *FinetuneOptions) { o.InputSize = []int{1, 2, 3} }, "--input-size"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := ok
			tc.edit(&o)
			if err := o.validate(); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("validate() = %v; want a usage error naming %s", err, tc.want)
			}
		})
	}
}

func TestCheckDevice(t *testing.T) {
	noGPU := []ort.DeviceStatus{{Device: "cpu", Available: true}, {Device: "cuda", Err: errors.New("missing libcuda.so.1")}, {Device: "tensorrt", Err: errors.New("missing")}}
	gpu := []ort.DeviceStatus{{Device: "cpu", Available: true}, {Device: "cuda", Available: true}}
	for _, tc := range []struct {
		dev     string
		devs    []ort.DeviceStatus
		ti      torchInfo
		wantErr error
	}{
		{"cpu", noGPU, torchInfo{Version: "1.13"}, nil},
		{"cuda:0", noGPU, torchInfo{Version: "1.13"}, sdk.ErrDeviceUnavailable},
		{"cuda:0", noGPU, torchInfo{Version: "1.13", CUDA: true, GPUs: 1}, nil},
		{"cuda:1", noGPU, torchInfo{Version: "1.13", CUDA: true, GPUs: 1}, sdk.ErrDeviceUnavailable},
		{"cuda", gpu, torchInfo{Err: errors.New("no torch")}, nil},
		{"tensorrt", noGPU, torchInfo{}, sdk.ErrDeviceUnavailable},
		{"tpu", noGPU, torchInfo{}, errUsage},
		{"cpu:1", noGPU, torchInfo{}, errUsage},
	} {
		err := checkDevice(tc.dev, tc.devs, tc.ti)
		if (tc.wantErr == nil) != (err == nil) || (tc.wantErr != nil && !errors.Is(err, tc.wantErr)) {
			t.Errorf("checkDevice(%q, torch %+v) = %v; want %v", tc.dev, tc.ti, err, tc.wantErr)
		}
	}
}

func TestBridgeExportUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--input-shape", "1,3,8,8", "--out", "m.onnx"}, "--module"},
		{[]string{"--module", "a:b", "--arch", "resnet18", "--input-shape", "1,3,8,8", "--out", "m.onnx"}, "--module"},
		{[]string{"--module", "a:b", "--out", "m.onnx"}, "--input-shape"},
		{[]string{"--module", "a:b", "--input-shape", "1,3,8,8", "--out", "m.pth"}, ".onnx"},
		{[]string{"--module", "a:b", "--input-shape", "1,0,8,8", "--out", "m.onnx"}, "positive"},
	} {
		cmd := NewCmdBridgeExport(&Factory{}, nil)
		cmd.SetArgs(tc.args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		if err := cmd.Execute(); !errors.Is(err, errUsage) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("bridge export %q = %v; want a usage error naming %s", tc.args, err, tc.want)
		}
	}
}
