package cli

import (
	"context"
	"errors"
	"math/rand"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

func randomSet(n int) *imageSet {
	rng := rand.New(rand.NewSource(1))
	s := &imageSet{Classes: []string{"a", "b"}}
	for i := 0; i < n; i++ {
		img := imageproc.NewRGB(20+i, 16+2*i)
		rng.Read(img.Pix)
		s.Images = append(s.Images, img)
		s.Labels = append(s.Labels, int64(i%2))
	}
	return s
}

// TestAugmentBatchDeterministic checks that a batch depends on the seed
// and the epoch, never on the number of workers.
func TestAugmentBatchDeterministic(t *testing.T) {
	set := randomSet(7)
	tf := imageproc.Transform{ResizeSize: 12, CropH: 12, CropW: 12, Interp: imageproc.Bilinear, Mean: imageproc.ImageNetMean, Std: imageproc.ImageNetStd}
	aug, err := imageproc.ParseAugment("default,rotate=10,jitter=0.4/0.4/0.4/0.1")
	if err != nil {
		t.Fatal(err)
	}
	idx := []int{6, 2, 0, 5, 1}
	ref, err := augmentBatch(set, idx, tf, aug, 42, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ref.Input.Shape, []int64{5, 3, 12, 12}) || !slices.Equal(ref.Labels, []int64{0, 0, 0, 1, 1}) {
		t.Fatalf("batch shape %v labels %v; want [5 3 12 12] and [0 0 0 1 1]", ref.Input.Shape, ref.Labels)
	}
	for _, workers := range []int{2, 3, 8} {
		b, err := augmentBatch(set, idx, tf, aug, 42, 1, workers)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(b.Input.Float32, ref.Input.Float32) {
			t.Errorf("augmentBatch with %d workers differs from 1 worker", workers)
		}
	}
	for _, c := range []struct {
		seed  int64
		epoch int
	}{{42, 2}, {43, 1}} {
		b, _ := augmentBatch(set, idx, tf, aug, c.seed, c.epoch, 2)
		if slices.Equal(b.Input.Float32, ref.Input.Float32) {
			t.Errorf("augmentBatch(seed %d, epoch %d) equals seed 42 epoch 1: the augmentation does not vary", c.seed, c.epoch)
		}
	}
	// With no augmentation the batch is the eval transform's.
	none, _ := imageproc.ParseAugment("none")
	b, _ := augmentBatch(set, []int{3}, tf, none, 42, 1, 2)
	want := make([]float32, tf.Len())
	if err := tf.Apply(set.Images[3], want); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(b.Input.Float32, want) {
		t.Errorf("augment none differs from the eval transform")
	}
}

func TestTrainBatchesEpochs(t *testing.T) {
	set := randomSet(5)
	tf := imageproc.Transform{ResizeSize: 8, CropH: 8, CropW: 8, Interp: imageproc.Bilinear, Mean: imageproc.ImageNetMean, Std: imageproc.ImageNetStd}
	val := &labelled{Classes: set.Classes, Input: &sdk.Tensor{Shape: []int64{3, 3, 8, 8}, Float32: make([]float32, 3*tf.Len())}, Labels: []int64{0, 1, 1}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	ch := trainBatches(ctx, set, val, tf, imageproc.DefaultAugment(), 2, 7, 1, 2, errc)
	var got []string
	for i := 0; i < 10; i++ {
		b := <-ch
		s := "t"
		if b.Validation {
			s = "v"
		}
		s += strings.Repeat("x", len(b.Labels))
		if b.EndOfEpoch {
			s += "|"
		}
		got = append(got, s)
	}
	// Two epochs: 5 training images in batches of 2, then 3 validation images.
	want := []string{"txx", "txx", "tx", "vxx", "vx|", "txx", "txx", "tx", "vxx", "vx|"}
	if !slices.Equal(got, want) {
		t.Errorf("batches = %q; want %q", got, want)
	}
}

func TestMatchClasses(t *testing.T) {
	for _, c := range []struct {
		tree, model []string
		want        []int
		err         string
	}{
		{[]string{"a", "b"}, []string{"b", "a"}, []int{1, 0}, ""},
		{[]string{"cat"}, []string{"dog", "cat", "cow"}, []int{1}, ""},
		{[]string{"a", "x"}, []string{"a", "b"}, nil, `in the tree but not the model: "x"; in the model but not the tree: "b"`},
	} {
		got, err := matchClasses(c.tree, c.model)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("matchClasses(%q, %q) = %v; want an error with %q", c.tree, c.model, err, c.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("matchClasses(%q, %q) = %v, %v; want %v", c.tree, c.model, got, err, c.want)
		}
	}
}

func TestWorkflowUsageErrors(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"finetune", "--arch", "resnet18", "--data", dir, "--out", dir, "--augment", "crop=2-3"}, "--augment"},
		{[]string{"finetune", "--arch", "resnet18", "--data", dir, "--out", dir, "--keep", "best"}, "--keep"},
		{[]string{"finetune", "--data", dir, "--out", dir}, "--arch or --model"},
		{[]string{"eval", dir}, "--model NAME"},
		{[]string{"eval", "--arch", "resnet18", "--batch-size", "0", dir}, "--batch-size"},
	} {
		_, _, err := execute(t, &Factory{}, c.args...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("gozoo %s = %v; want a usage error naming %s", strings.Join(c.args, " "), err, c.want)
		}
	}
}

func TestResumeEpoch(t *testing.T) {
	for path, want := range map[string]int{"runs/ft/epoch-003.pth": 4, "epoch-010.pth": 11, "best.pth": 1} {
		if got := resumeEpoch(path); got != want {
			t.Errorf("resumeEpoch(%q) = %d; want %d", path, got, want)
		}
	}
}
