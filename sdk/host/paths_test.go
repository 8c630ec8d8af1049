package host

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/gozoo/gozoo/sdk"
)

func TestAbsPaths(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	arch := &sdk.Arch{Name: "m", Options: []sdk.OptionSpec{{Name: "path", Path: true}, {Name: "factory"}, {Name: "vocab", Path: true}}}
	load := []struct {
		name string
		in   sdk.LoadRequest
		want sdk.LoadRequest
	}{
		{"relative weights", sdk.LoadRequest{WeightsPath: "r18.pth"}, sdk.LoadRequest{WeightsPath: filepath.Join(wd, "r18.pth")}},
		{"dot-dot weights", sdk.LoadRequest{WeightsPath: "../w/r18.pth"}, sdk.LoadRequest{WeightsPath: filepath.Join(filepath.Dir(wd), "w", "r18.pth")}},
		{"absolute weights", sdk.LoadRequest{WeightsPath: "/data/r18.pth"}, sdk.LoadRequest{WeightsPath: "/data/r18.pth"}},
		{"no weights", sdk.LoadRequest{Seed: 3}, sdk.LoadRequest{Seed: 3}},
		{"path options", sdk.LoadRequest{Options: map[string]string{"path": "src", "factory": "net.build", "vocab": "/v.txt"}},
			sdk.LoadRequest{Options: map[string]string{"path": filepath.Join(wd, "src"), "factory": "net.build", "vocab": "/v.txt"}}},
		{"empty path option", sdk.LoadRequest{Options: map[string]string{"path": ""}}, sdk.LoadRequest{Options: map[string]string{"path": ""}}},
	}
	for _, tt := range load {
		in := tt.in
		in.Options = cloneMap(tt.in.Options)
		got, err := absLoad(&in, arch)
		if err != nil || !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("%s: absLoad(%+v) = %+v, %v; want %+v", tt.name, tt.in, got, err, tt.want)
		}
		if !reflect.DeepEqual(in.Options, tt.in.Options) || in.WeightsPath != tt.in.WeightsPath {
			t.Errorf("%s: absLoad modified its request: %+v", tt.name, in)
		}
	}
	// Options are left alone when the arch is unknown: nothing says they
	// are paths.
	if got, _ := absLoad(&sdk.LoadRequest{Options: map[string]string{"path": "src"}}, nil); got.Options["path"] != "src" {
		t.Errorf("absLoad(no arch) = %+v; want options unchanged", got)
	}

	train := []struct {
		in, want sdk.TrainRequest
	}{
		{sdk.TrainRequest{CheckpointDir: "runs/ft", ResumeFrom: "runs/ft/epoch-002.pth", LR: 0.1},
			sdk.TrainRequest{CheckpointDir: filepath.Join(wd, "runs", "ft"), ResumeFrom: filepath.Join(wd, "runs", "ft", "epoch-002.pth"), LR: 0.1}},
		{sdk.TrainRequest{CheckpointDir: "/abs/ck"}, sdk.TrainRequest{CheckpointDir: "/abs/ck"}},
		{sdk.TrainRequest{}, sdk.TrainRequest{}},
	}
	for _, tt := range train {
		got, err := absTrain(&tt.in)
		if err != nil || !reflect.DeepEqual(*got, tt.want) {
			t.Errorf("absTrain(%+v) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}

	export := []struct {
		in, want string
	}{{"m.onnx", filepath.Join(wd, "m.onnx")}, {"./out/m.pth", filepath.Join(wd, "out", "m.pth")}, {"/m.onnx", "/m.onnx"}}
	for _, tt := range export {
		got, err := absExport(&sdk.ExportRequest{Path: tt.in, Format: sdk.FormatONNX})
		if err != nil || got.Path != tt.want || got.Format != sdk.FormatONNX {
			t.Errorf("absExport(%q) = %+v, %v; want path %q", tt.in, got, err, tt.want)
		}
	}
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := map[string]string{}
	for k, v := range m {
		out[k] = v
	}
	return out
}
