package main

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/backbone"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

// TestParity compares tinycnn with tinycnn.py on the same seeded weights
// and input, with realistic batch-norm statistics: every layer within
// sdktest.ParityTolerance of torch's forward hooks, the layers and
// parameters equal to torch's named_modules and named_parameters. The
// checkpoint alone sets width, depth and num_classes. Each fixture is
// checked in process and through the built plugin binary.
func TestParity(t *testing.T) {
	needORT(t)
	plugin := sdktest.Start(t, pluginBinary(t))
	for _, c := range []struct {
		name   string
		layers string
		args   []string
	}{
		{"default", "features.0.conv,features.0.bn,features.0,features.2.relu,features,avgpool,fc", nil},
		// Odd sizes: every max pool drops a row or a column.
		{"w8-d4-c7-45x39", "features.0.pool,features.1.bn,features.3.conv,features.3,avgpool,fc",
			[]string{"--width", "8", "--depth", "4", "--num-classes", "7", "--height", "45", "--image-width", "39", "--batch", "3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := sdktest.MakeFixture(t, "testdata/make_parity.py", append(c.args, "--layers", c.layers)...)
			for _, w := range []struct {
				name string
				bb   sdk.Backbone
			}{{"in process", backbone.New(family)}, {"plugin", plugin}} {
				t.Run(w.name, func(t *testing.T) {
					m, err := w.bb.Load(context.Background(), &sdk.LoadRequest{Arch: "tinycnn", WeightsPath: f.Weights(), Threads: 2})
					if err != nil {
						t.Fatalf("Load: %v", err)
					}
					defer m.Close()
					f.Check(t, m, strings.Split(c.layers, ","))
					f.CheckCoverage(t, m)
				})
			}
		})
	}
}

// TestCheckpointOptions checks that options a user gives are held
// against the checkpoint's shapes, and the errors for bad options.
func TestCheckpointOptions(t *testing.T) {
	f := sdktest.MakeFixture(t, "testdata/make_parity.py", "--width", "8", "--depth", "2", "--num-classes", "4", "--layers", "fc")
	for _, tc := range []struct {
		opts map[string]string
		want error
		msg  string
	}{
		{map[string]string{"width": "8", "depth": "2", "num_classes": "4"}, nil, ""},
		{map[string]string{"width": "16"}, sdk.ErrWeights, "width=16 but the checkpoint has 8"},
		{map[string]string{"depth": "3", "num_classes": "5"}, sdk.ErrWeights, "depth=3 but the checkpoint has 2; num_classes=5 but the checkpoint has 4"},
		{map[string]string{"depth": "9"}, sdk.ErrBadOption, "give an integer from 1 to 8"},
		{map[string]string{"widht": "8"}, sdk.ErrBadOption, "did you mean width?"},
	} {
		m, err := backbone.New(family).Load(context.Background(), &sdk.LoadRequest{Arch: "tinycnn", WeightsPath: f.Weights(), Options: tc.opts})
		if err == nil {
			m.Close()
		}
		if !errors.Is(err, tc.want) || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("Load(%v) = %v; want %v containing %q", tc.opts, err, tc.want, tc.msg)
		}
	}
}

// TestSmallInput checks that an input too small for the net's pools is
// refused with the size it needs.
func TestSmallInput(t *testing.T) {
	m, err := backbone.New(family).Load(context.Background(), &sdk.LoadRequest{Arch: "tinycnn"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	_, err = m.Layers(context.Background(), &sdk.LayersRequest{InputShape: []int64{-1, 3, 6, 32}})
	if !errors.Is(err, sdk.ErrBadInput) || !strings.Contains(err.Error(), "features.2.pool") {
		t.Errorf("Layers([N, 3, 6, 32]) = %v; want sdk.ErrBadInput naming features.2.pool (three pools need 8 rows)", err)
	}
}
