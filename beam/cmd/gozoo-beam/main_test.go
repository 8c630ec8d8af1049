package main

import (
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/beam/extract"
)

func TestBrief(t *testing.T) {
	err := errors.New("bundle inst003 stage-003 failed:process bundle failed for instruction inst003\\n\\tcaused by:\nDoFn[UID:4, PID:e4, Name: extract.extractGroupFn] failed:\n/data/x.png: imageproc: corrupt image\n")
	if got, want := brief(err), "/data/x.png: imageproc: corrupt image"; got != want {
		t.Errorf("brief = %q; want %q", got, want)
	}
	if got := brief(errors.New("plain")); got != "plain" {
		t.Errorf("brief(plain) = %q", got)
	}
}

// defaults returns options with every flag's default.
func defaults(t *testing.T) *options {
	t.Helper()
	var o options
	fl := flag.NewFlagSet("gozoo-beam", flag.ContinueOnError)
	o.register(fl)
	if err := fl.Parse(nil); err != nil {
		t.Fatal(err)
	}
	return &o
}

func TestConfig(t *testing.T) {
	o := defaults(t)
	o.model, o.inputs, o.output = "resnet18_w8.gozoo_fmnist", "a/*.png, b.txt", "out/feats"
	c, err := o.config()
	if err != nil {
		t.Fatal(err)
	}
	if c.Arch != "resnet18" || c.Plugin != "resnet" || c.Options["width"] != "8" || len(c.Inputs) != 2 || c.Layers[0] != "avgpool" {
		t.Errorf("config from --model = %+v; want the entry's arch, plugin, options and layer", c)
	}
	if c.Pre.Resize != 28 || !c.Pre.Grayscale || len(c.ModelClasses) != 10 {
		t.Errorf("config from --model: transform %+v, %d classes; want the entry's", c.Pre, len(c.ModelClasses))
	}
	o = defaults(t)
	o.inputs, o.output = "a/*.png", "out/feats"
	if c, err := o.config(); err != nil || c.Arch != "resnet18" || c.Options["width"] != "8" {
		t.Errorf("config with no model = %+v, %v; want the embedded default model", c, err)
	}
	for _, tc := range []struct {
		edit func(*options)
		want string
	}{
		{func(o *options) { o.inputs = "" }, "--input is required"},
		{func(o *options) { o.output = "out/" }, "is a folder"},
		{func(o *options) { o.onError = "ignore" }, "--on-error"},
		{func(o *options) { o.format = "csv" }, "--format"},
		{func(o *options) { o.arch = "resnet50" }, "drop --arch/--weights"},
		{func(o *options) { o.opts = "width" }, "want key=value"},
		{func(o *options) { o.decodeMemory = "lots" }, "--decode-memory"},
		{func(o *options) { o.model = ""; o.weights = "w.pth" }, "has no model card: give --arch"},
	} {
		o := defaults(t)
		o.model, o.inputs, o.output = "resnet18_w8.gozoo_fmnist", "a/*.png", "out/feats"
		tc.edit(o)
		_, err := o.config()
		if !errors.Is(err, extract.ErrConfig) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("config = %v; want ErrConfig saying %q", err, tc.want)
		}
	}
}
