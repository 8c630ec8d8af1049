package gan

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestDescribe(t *testing.T) {
	d, err := New().Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if d.Name != "gan" || !d.Capabilities.Extract || d.Capabilities.Train || !d.Capabilities.Export {
		t.Errorf("Describe = %+v", d)
	}
	want := map[string]string{
		archDCGAN:   "image_size ndf nc batch_norm bias " + bridge.PrefixOption,
		archSNDCGAN: "image_size ndf nc batch_norm bias spectral_norm " + bridge.PrefixOption,
	}
	var names []string
	for _, a := range d.Archs {
		names = append(names, a.Name)
		var opts []string
		for _, o := range a.Options {
			opts = append(opts, o.Name)
		}
		if got := strings.Join(opts, " "); got != want[a.Name] || !sdk.EqualShape(a.Input.Shape, []int64{-1, 3, 64, 64}) {
			t.Errorf("arch %s: options %s, input %v; want %s, [-1, 3, 64, 64]", a.Name, got, a.Input.Shape, want[a.Name])
		}
	}
	if !slices.Equal(names, []string{archDCGAN, archSNDCGAN}) {
		t.Errorf("archs = %v", names)
	}
}

// TestLayout checks the module numbering the package doc documents, at
// every image size, with and without BatchNorm and spectral norm: each
// layer's name, class, shape and parameter count, and the default layer.
func TestLayout(t *testing.T) {
	type mod struct {
		kind string
		c    int64 // output channels (-1: ndf*2^block)
		hw   int64
	}
	for _, tc := range []struct {
		arch      string
		size, ndf int64
		bn, bias  bool
		sn        string
		// layers of main in order, by block: conv, [bn], relu; then
		// the final conv and the Sigmoid.
		convs  []int
		deflt  string
		params int64
	}{
		{archDCGAN, 32, 16, true, false, "", []int{0, 2, 5, 8}, "main.7", 0},
		// The tutorial's Discriminator: 2,765,568 parameters.
		{archDCGAN, 64, 64, true, false, "", []int{0, 2, 5, 8, 11}, "main.10", 2765568},
		{archDCGAN, 128, 8, true, false, "", []int{0, 2, 5, 8, 11, 14}, "main.13", 0},
		{archDCGAN, 256, 4, true, true, "", []int{0, 2, 5, 8, 11, 14, 17}, "main.16", 0},
		{archDCGAN, 64, 8, false, true, "", []int{0, 2, 4, 6, 8}, "main.7", 0},
		{archSNDCGAN, 32, 8, true, false, "hook", []int{0, 2, 5, 8}, "main.7", 0},
		{archSNDCGAN, 64, 64, true, false, "parametrizations", []int{0, 2, 5, 8, 11}, "main.10", 2765568},
		{archSNDCGAN, 256, 4, false, false, "parametrizations", []int{0, 2, 4, 6, 8, 10, 12}, "main.11", 0},
	} {
		name := fmt.Sprintf("%s/%d/ndf%d/bn=%v/bias=%v/%s", tc.arch, tc.size, tc.ndf, tc.bn, tc.bias, tc.sn)
		t.Run(name, func(t *testing.T) {
			opts := map[string]string{"image_size": fmt.Sprint(tc.size), "ndf": fmt.Sprint(tc.ndf), "batch_norm": fmt.Sprint(tc.bn), "bias": fmt.Sprint(tc.bias)}
			convKind := "Conv2d"
			if tc.sn != "" {
				opts["spectral_norm"] = tc.sn
				if tc.sn == "parametrizations" {
					convKind = "ParametrizedConv2d"
				}
			}
			n := sdktest.NewNet(t, Family, tc.arch, opts)
			if got := n.DefaultLayer(); got != tc.deflt {
				t.Errorf("DefaultLayer() = %s; want %s", got, tc.deflt)
			}
			if !sdk.EqualShape(n.DefaultInput(), []int64{-1, 3, tc.size, tc.size}) {
				t.Errorf("DefaultInput() = %v", n.DefaultInput())
			}
			// The expected layers, written out from the layout.
			var want []sdk.Layer
			hw, c, in := tc.size, int64(3), int64(3)
			var total int64
			blocks := len(tc.convs) - 1
			for i, j := range tc.convs {
				k := int64(4 * 4)
				if i < blocks {
					c, hw = tc.ndf<<i, hw/2
				} else {
					c, hw = 1, 1
				}
				p := c * in * k
				if tc.bias {
					p += c
				}
				total += p
				want = append(want, sdk.Layer{Name: fmt.Sprintf("main.%d", j), Kind: convKind, Shape: []int64{-1, c, hw, hw}, Params: p})
				next := j + 1
				if i > 0 && i < blocks && tc.bn {
					want = append(want, sdk.Layer{Name: fmt.Sprintf("main.%d", next), Kind: "BatchNorm2d", Shape: []int64{-1, c, hw, hw}, Params: 2 * c})
					total += 2 * c
					next++
				}
				kind := "LeakyReLU"
				if i == blocks {
					kind = "Sigmoid"
				}
				want = append(want, sdk.Layer{Name: fmt.Sprintf("main.%d", next), Kind: kind, Shape: []int64{-1, c, hw, hw}})
				in = c
			}
			want = append([]sdk.Layer{{Name: "main", Kind: "Sequential", Shape: []int64{-1, 1, 1, 1}, Params: total}}, want...)
			if tc.params != 0 && total != tc.params {
				t.Errorf("%d parameters in all; want %d", total, tc.params)
			}
			g := n.Build(n.DefaultInput())
			if err := g.Err(); err != nil {
				t.Fatal(err)
			}
			got := g.Layers()
			if len(got) != len(want) {
				t.Fatalf("Layers() = %d layers %v; want %d", len(got), g.LayerNames(), len(want))
			}
			for i := range want {
				if g, w := got[i], want[i]; g.Name != w.Name || g.Kind != w.Kind || !sdk.EqualShape(g.Shape, w.Shape) || g.Params != w.Params {
					t.Errorf("Layers()[%d] = %+v; want %+v", i, g, w)
				}
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		req  sdk.LoadRequest
		want error
		msg  string
	}{
		{sdk.LoadRequest{Arch: "dcgan"}, sdk.ErrUnknownArch, "did you mean dcgan_discriminator"},
		{sdk.LoadRequest{Arch: archDCGAN, Options: map[string]string{"image_size": "48"}}, sdk.ErrBadOption, "a power of two from 32 to 256"},
		{sdk.LoadRequest{Arch: archDCGAN, Options: map[string]string{"image_size": "512"}}, sdk.ErrBadOption, "from 32 to 256"},
		{sdk.LoadRequest{Arch: archDCGAN, Options: map[string]string{"image_size": "16"}}, sdk.ErrBadOption, "from 32 to 256"},
		{sdk.LoadRequest{Arch: archDCGAN, Options: map[string]string{"ndf": "0"}}, sdk.ErrBadOption, "ndf"},
		{sdk.LoadRequest{Arch: archDCGAN, Options: map[string]string{"spectral_norm": "hook"}}, sdk.ErrBadOption, "takes image_size, ndf, nc, batch_norm, bias"},
		{sdk.LoadRequest{Arch: archSNDCGAN, Options: map[string]string{"spectral_norm": "hooks"}}, sdk.ErrBadOption, "did you mean hook"},
		{sdk.LoadRequest{Arch: archSNDCGAN, Options: map[string]string{"batch_norm": "maybe"}}, sdk.ErrBadOption, "true or false"},
		// 4096 << 6 channels: refused before anything is allocated.
		{sdk.LoadRequest{Arch: archDCGAN, Options: map[string]string{"ndf": "4096", "image_size": "256"}}, sdk.ErrBadOption, "over the limit"},
	}
	for _, tc := range tests {
		m, err := New().Load(context.Background(), &tc.req)
		if err == nil {
			m.Close()
		}
		if !errors.Is(err, tc.want) || err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("Load(%s %v) = %v; want %v containing %q", tc.req.Arch, tc.req.Options, err, tc.want, tc.msg)
		}
	}
}

// TestExtract runs seeded discriminators: the default layer, the input
// check, and the spectral-norm arch's layers.
func TestExtract(t *testing.T) {
	needORT(t)
	ctx := context.Background()
	for _, tc := range []struct {
		arch  string
		opts  map[string]string
		size  int64
		deflt string
		shape []int64
	}{
		{archDCGAN, map[string]string{"ndf": "8"}, 64, "main.10", []int64{2, 64, 4, 4}},
		{archSNDCGAN, map[string]string{"ndf": "8", "image_size": "32", "spectral_norm": "hook"}, 32, "main.7", []int64{2, 32, 4, 4}},
	} {
		m, err := New().Load(ctx, &sdk.LoadRequest{Arch: tc.arch, Options: tc.opts, Seed: 1, Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		size := tc.size
		x := sdk.Zeros(2, 3, size, size)
		for i := range x.Float32 {
			x.Float32[i] = float32(i%23)/11 - 1
		}
		out, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x})
		if err != nil {
			t.Fatalf("%s Extract() = %v", tc.arch, err)
		}
		if f := out.Outputs[tc.deflt]; len(out.Outputs) != 1 || f == nil || !sdk.EqualShape(f.Shape, tc.shape) {
			t.Errorf("%s Extract() = %v; want %s %v", tc.arch, out.Outputs, tc.deflt, tc.shape)
		}
		p, err := m.Extract(ctx, &sdk.ExtractRequest{Input: x, Layers: []string{"main"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range p.Outputs["main"].Float32 {
			if !(v >= 0 && v <= 1) {
				t.Errorf("%s: probability %v outside [0, 1]", tc.arch, v)
			}
		}
		var shapeErr *sdk.ShapeError
		_, err = m.Extract(ctx, &sdk.ExtractRequest{Input: sdk.Zeros(1, 3, 2*size, 2*size)})
		if !errors.As(err, &shapeErr) || !strings.Contains(err.Error(), fmt.Sprintf("[N, 3, %d, %d]", size, size)) {
			t.Errorf("%s Extract(%dx%d) = %v; want a ShapeError naming [N, 3, %d, %d]", tc.arch, 2*size, 2*size, err, size, size)
		}
	}
}
