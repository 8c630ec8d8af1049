//go:build unix

package plugin_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/plugin"
)

func TestDescribeProbe(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	probe := filepath.Join(dir, "probe")
	if err := backbonev1.WriteProbe(probe, "t0k3n"); err != nil {
		t.Fatal(err)
	}
	on := serve(t, toyplugin.New())
	off := serve(t, toyplugin.New(), plugin.WithSharedMemory(false))
	tests := []struct {
		name string
		c    backbonev1.BackboneClient
		req  *backbonev1.DescribeRequest
		want bool
	}{
		{"probe read back", on, &backbonev1.DescribeRequest{ProbePath: probe, ProbeToken: "t0k3n"}, true},
		{"no probe", on, &backbonev1.DescribeRequest{}, false},
		{"wrong token", on, &backbonev1.DescribeRequest{ProbePath: probe, ProbeToken: "other"}, false},
		{"missing probe", on, &backbonev1.DescribeRequest{ProbePath: filepath.Join(dir, "nope"), ProbeToken: "t0k3n"}, false},
		{"shared memory off", off, &backbonev1.DescribeRequest{ProbePath: probe, ProbeToken: "t0k3n"}, false},
	}
	for _, tt := range tests {
		resp, err := tt.c.Describe(ctx, tt.req)
		if err != nil {
			t.Fatalf("Describe(%s) = %v", tt.name, err)
		}
		if got := resp.GetTransport().GetSharedFiles(); got != tt.want {
			t.Errorf("Describe(%s) shared_files = %v; want %v", tt.name, got, tt.want)
		}
	}
}

// extractRaw runs one Extract stream with the given first message and
// returns the response chunks.
func extractRaw(ctx context.Context, c backbonev1.BackboneClient, msgs ...*backbonev1.ExtractRequest) ([]*backbonev1.TensorChunk, error) {
	s, err := c.Extract(ctx)
	if err != nil {
		return nil, err
	}
	for _, m := range msgs {
		if err := s.Send(m); err != nil && err != io.EOF {
			return nil, err
		}
	}
	s.CloseSend()
	var out []*backbonev1.TensorChunk
	for {
		r, err := s.Recv()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, backbonev1.FromStatus(err)
		}
		out = append(out, r.GetOutput())
	}
}

func TestExtractFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	c := serve(t, toyplugin.New())
	h, err := c.Load(ctx, &backbonev1.LoadRequest{Arch: "toy", Options: map[string]string{"dim": "1024"}})
	if err != nil {
		t.Fatal(err)
	}
	x := sdk.Zeros(128, 1024) // 512 KiB
	for i := range x.Float32 {
		x.Float32[i] = float32(i%977) - 400
	}
	in, err := backbonev1.WriteTensorFile(filepath.Join(dir, "in"), "", x)
	if err != nil {
		t.Fatal(err)
	}
	of := &backbonev1.OutputFiles{Dir: dir, Prefix: "out-1-", MinBytes: backbonev1.FileMinBytes}
	got, err := extractRaw(ctx, c, &backbonev1.ExtractRequest{Handle: h.Handle, Layers: []string{"lin", "sum"}, Input: in, OutputFiles: of})
	if err != nil {
		t.Fatalf("Extract(file input) = %v", err)
	}
	if len(got) != 2 || got[0].GetName() != "lin" || got[0].GetFile() == nil || got[1].GetName() != "sum" || got[1].GetFile() != nil {
		t.Fatalf("Extract(file input) answered %v; want lin as a file and sum inline", got)
	}
	if p := got[0].GetFile().GetPath(); p != filepath.Join(dir, "out-1-0") {
		t.Errorf("lin written to %s; want %s", p, filepath.Join(dir, "out-1-0"))
	}
	lin, err := backbonev1.ReadTensorFile(got[0])
	if err != nil {
		t.Fatal(err)
	}
	for i, v := range x.Float32 {
		if lin.Float32[i] != 2*v {
			t.Fatalf("lin[%d] = %v; want %v", i, lin.Float32[i], 2*v)
		}
	}
	if _, err := os.Stat(in.File.Path); err != nil {
		t.Errorf("the plugin removed the host's input file: %v", err)
	}

	// The same output name again: O_EXCL refuses the existing file, so the
	// output comes inline instead of overwriting it.
	got, err = extractRaw(ctx, c, &backbonev1.ExtractRequest{Handle: h.Handle, Layers: []string{"lin"}, Input: in, OutputFiles: of})
	if err != nil || len(got) == 0 || got[0].GetFile() != nil {
		t.Errorf("Extract(output file exists) = %v, %v; want lin inline", got, err)
	}
	// An output folder that is gone: inline as well.
	gone := &backbonev1.OutputFiles{Dir: filepath.Join(dir, "gone"), Prefix: "o-", MinBytes: 1}
	got, err = extractRaw(ctx, c, &backbonev1.ExtractRequest{Handle: h.Handle, Layers: []string{"lin"}, Input: in, OutputFiles: gone})
	if err != nil || len(got) == 0 || got[0].GetFile() != nil {
		t.Errorf("Extract(output folder gone) = %v, %v; want lin inline", got, err)
	}
}

func TestExtractFilesRejects(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	on := serve(t, toyplugin.New())
	off := serve(t, toyplugin.New(), plugin.WithSharedMemory(false))
	load := func(c backbonev1.BackboneClient) string {
		h, err := c.Load(ctx, &backbonev1.LoadRequest{Arch: "toy"})
		if err != nil {
			t.Fatal(err)
		}
		return h.Handle
	}
	hOn, hOff := load(on), load(off)
	x := sdk.Zeros(2, 4)
	in, err := backbonev1.WriteTensorFile(filepath.Join(dir, "in"), "", x)
	if err != nil {
		t.Fatal(err)
	}
	inline, _ := backbonev1.Chunks("", x, 0)
	lying := &backbonev1.TensorChunk{Dtype: in.Dtype, Shape: []int64{1 << 20, 4}, File: &backbonev1.TensorFile{Path: in.File.Path, Size: 16 << 20}}
	os.Symlink(in.File.Path, filepath.Join(dir, "link"))
	link := &backbonev1.TensorChunk{Dtype: in.Dtype, Shape: in.Shape, File: &backbonev1.TensorFile{Path: filepath.Join(dir, "link"), Size: 32}}
	tests := []struct {
		name string
		c    backbonev1.BackboneClient
		msgs []*backbonev1.ExtractRequest
	}{
		{"shared memory off", off, []*backbonev1.ExtractRequest{{Handle: hOff, Input: in}}},
		{"size lies", on, []*backbonev1.ExtractRequest{{Handle: hOn, Input: lying}}},
		{"symlink", on, []*backbonev1.ExtractRequest{{Handle: hOn, Input: link}}},
		{"file after first message", on, []*backbonev1.ExtractRequest{{Handle: hOn}, {Input: in}}},
		{"file after inline chunk", on, []*backbonev1.ExtractRequest{{Handle: hOn, Input: &backbonev1.TensorChunk{Dtype: in.Dtype, Shape: in.Shape, Data: make([]byte, 4)}}, {Input: in}}},
		{"output prefix with a path", on, []*backbonev1.ExtractRequest{{Handle: hOn, Input: inline[0], OutputFiles: &backbonev1.OutputFiles{Dir: dir, Prefix: "../x"}}}},
		{"relative output folder", on, []*backbonev1.ExtractRequest{{Handle: hOn, Input: inline[0], OutputFiles: &backbonev1.OutputFiles{Dir: "rel", Prefix: "x"}}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := extractRaw(ctx, tt.c, tt.msgs...)
			if !errors.Is(err, sdk.ErrBadInput) {
				t.Errorf("Extract(%s) = %v; want ErrBadInput", tt.name, err)
			}
		})
	}
	// Without shared memory, output_files is ignored: outputs come inline.
	got, err := extractRaw(ctx, off, &backbonev1.ExtractRequest{Handle: hOff, Layers: []string{"lin"}, Input: inline[0],
		OutputFiles: &backbonev1.OutputFiles{Dir: dir, Prefix: "o-"}})
	if err != nil || len(got) != 1 || got[0].GetFile() != nil {
		t.Errorf("Extract(output files, shared memory off) = %v, %v; want lin inline", got, err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "o-*")); len(m) != 0 {
		t.Errorf("a plugin without shared memory wrote %v", m)
	}
}
