package main

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk/ort"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testenv.Cleanup()
	os.Exit(code)
}

func TestRun(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := testenv.BuildPlugin(t, "resnet")
	var out bytes.Buffer
	if err := run(context.Background(), &out, dir, "resnet18"); err != nil {
		t.Fatalf("run: %v\n%s", err, out.String())
	}
	got := out.String()
	for _, want := range []string{
		"avgpool  AdaptiveAvgPool2d  [N, 512, 1, 1]",
		"fc       Linear             [N, 1000]",
		"layer3: [2, 256, 14, 14]",
		"avgpool: [2, 512, 1, 1]",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	// resnet18's layer4 holds 8,393,728 of its 11,689,512 parameters.
	if !strings.Contains(got, ": 8393728 of 11689512 parameters trainable") {
		t.Errorf("trainable count wrong:\n%s", got)
	}
}
