package torch_test

import (
	"context"
	"errors"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/gozoo/gozoo/bridge"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
)

// randomBatches streams epochs of two small random training batches and
// one validation batch until ctx ends.
func randomBatches(ctx context.Context) <-chan sdk.TrainBatch {
	ch := make(chan sdk.TrainBatch)
	go func() {
		defer close(ch)
		r := rand.New(rand.NewSource(1))
		for {
			for i := 0; i < 3; i++ {
				x := make([]float32, 8*3*32*32)
				for j := range x {
					x[j] = float32(r.NormFloat64())
				}
				labels := make([]int64, 8)
				for j := range labels {
					labels[j] = int64(r.Intn(10))
				}
				b := sdk.TrainBatch{Input: &sdk.Tensor{Shape: []int64{8, 3, 32, 32}, Float32: x}, Labels: labels, Validation: i == 2, EndOfEpoch: i == 2}
				select {
				case ch <- b:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return ch
}

// TestKillMidTraining kills the plugin process during the second epoch:
// Train fails with sdk.ErrPluginCrashed and a message that says so, the
// first epoch's checkpoint is intact, and a new run resumes from it.
func TestKillMidTraining(t *testing.T) {
	tmp := t.TempDir()
	weights := filepath.Join(tmp, "w.pth")
	testenv.RunPython(t, "testdata/make_weights.py", "resnet18", weights, "0", "10")
	bb, c := start(t)
	ctx := context.Background()
	load := func() sdk.Trainer {
		m, err := bb.Load(ctx, &sdk.LoadRequest{Arch: "resnet18", WeightsPath: weights, Options: map[string]string{"num_classes": "10"}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { m.Close() })
		if _, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"*"}, Trainable: false}); err != nil {
			t.Fatal(err)
		}
		if _, err := m.SetTrainable(ctx, &sdk.SetTrainableRequest{Patterns: []string{"layer4.*", "fc.*"}, Trainable: true}); err != nil {
			t.Fatal(err)
		}
		return m.(sdk.Trainer)
	}
	ckdir := filepath.Join(tmp, "run")
	runCtx, cancel := context.WithCancel(ctx)
	var lastCkpt string
	killed := false
	err := load().Train(runCtx, &sdk.TrainRequest{Optimizer: "sgd", LR: 0.01, Momentum: 0.9, Epochs: 50, Schedule: "cosine",
		CheckpointDir: ckdir, Batches: randomBatches(runCtx)}, func(e *sdk.TrainEvent) error {
		if e.CheckpointPath != "" {
			lastCkpt = e.CheckpointPath
		}
		if e.Epoch == 2 && e.Step > 0 && !e.Validation && !killed {
			pid, err := c.PID("torch")
			if err != nil {
				return err
			}
			killed = true
			return syscall.Kill(pid, syscall.SIGKILL)
		}
		return nil
	})
	cancel()
	if !errors.Is(err, sdk.ErrPluginCrashed) || !strings.Contains(err.Error(), "died during Train") {
		t.Fatalf("Train() after kill -9 = %v; want ErrPluginCrashed saying the plugin died during Train", err)
	}
	t.Logf("the error: %v", err)
	if want := filepath.Join(ckdir, "epoch-001.pth"); lastCkpt != want {
		t.Fatalf("last checkpoint %q; want %q", lastCkpt, want)
	}
	if _, err := os.Stat(filepath.Join(ckdir, "epoch-002.pth")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("epoch-002.pth exists after a kill in epoch 2 (err %v)", err)
	}
	sd, err := bridge.Load(lastCkpt)
	if err != nil {
		t.Fatalf("the last checkpoint does not read back: %v", err)
	}
	if _, ok := sd.Tensors["layer4.1.conv2.weight"]; !ok || len(sd.Tensors) != 122 {
		t.Errorf("checkpoint holds %d tensors; want resnet18's 122", len(sd.Tensors))
	}

	// Resume: the host restarts the plugin; training continues at epoch 2.
	runCtx, cancel = context.WithCancel(ctx)
	defer cancel()
	var epochs []int
	var msgs []string
	err = load().Train(runCtx, &sdk.TrainRequest{Optimizer: "sgd", LR: 0.01, Momentum: 0.9, Epochs: 3, Schedule: "cosine",
		CheckpointDir: ckdir, ResumeFrom: lastCkpt, Batches: randomBatches(runCtx)}, func(e *sdk.TrainEvent) error {
		if e.Validation {
			epochs = append(epochs, e.Epoch)
		}
		if e.Message != "" && e.Message != "train" {
			msgs = append(msgs, e.Message)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Train(resume from %s) = %v", lastCkpt, err)
	}
	if len(epochs) != 2 || epochs[0] != 2 || epochs[1] != 3 {
		t.Errorf("resumed run validated epochs %v; want [2 3]", epochs)
	}
	if len(msgs) == 0 || !strings.Contains(msgs[0], "resumed from") {
		t.Errorf("resumed run messages %q; want a resume notice first", msgs)
	}
	if _, err := bridge.Load(filepath.Join(ckdir, "epoch-003.pth")); err != nil {
		t.Errorf("epoch-003.pth after resuming: %v", err)
	}
}
