// Command benchbeam measures gozoo-beam on prism against gozoo extract on
// the same images in one run: images/s of each, and the ratio to gozoo
// extract. Rows: the embedded Fashion-MNIST model on real Fashion-MNIST
// PNGs (a tiny model: the pipeline's own cost shows), and resnet18 at
// 224x224 on the demo photos (a model that dominates). gozoo-beam runs
// with 1 worker at -threads intra-op threads, and with 2 workers at half
// as many each. It ends with what extracting 10 million images costs on N
// workers at the measured per-worker rate.
//
//	go run ./internal/benchbeam -bin ../bin            (from beam/; make build first)
package main

import (
	"errors"
	"flag"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/gozoo/gozoo/zoo/dataset"
)

const fashion = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz"

type config struct {
	bin, photos, work     string
	fashionN, photoN, thr int
}

func main() {
	var c config
	flag.StringVar(&c.bin, "bin", "../bin", "folder with gozoo, gozoo-beam and plugins/ (make build)")
	flag.StringVar(&c.photos, "photos", "../scripts/demo/images/photos", "demo photos, copied to make -photo-images inputs")
	flag.StringVar(&c.work, "work", "", "scratch folder (default: a temporary folder)")
	flag.IntVar(&c.fashionN, "fashion-images", 2000, "Fashion-MNIST PNGs")
	flag.IntVar(&c.photoN, "photo-images", 240, "photos (copies of the demo photos)")
	flag.IntVar(&c.thr, "threads", 2, "intra-op threads per machine: 1 worker gets all, 2 workers half each")
	flag.Parse()
	if err := run(c); err != nil {
		fmt.Fprintln(os.Stderr, "benchbeam:", err)
		os.Exit(1)
	}
}

func run(c config) error {
	for _, b := range []string{"gozoo", "gozoo-beam"} {
		if _, err := os.Stat(filepath.Join(c.bin, b)); err != nil {
			return fmt.Errorf("%v: run make build", err)
		}
	}
	if c.work == "" {
		d, err := os.MkdirTemp("", "benchbeam-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		c.work = d
	}
	fdir, err := fashionPNGs(filepath.Join(c.work, "fashion"), c.fashionN)
	if err != nil {
		return err
	}
	pdir, err := photoCopies(filepath.Join(c.work, "photos"), c.photos, c.photoN)
	if err != nil {
		return err
	}
	rows := []struct {
		name, dir string
		n         int
		model     []string
	}{
		{"resnet18_w8 fmnist 28x28 avgpool", fdir, c.fashionN, []string{"--model", "resnet18_w8.gozoo_fmnist", "--layers", "avgpool"}},
		{"resnet18 224x224 avgpool", pdir, c.photoN, []string{"--arch", "resnet18", "--layers", "avgpool"}},
	}
	fmt.Printf("%-34s %-28s %9s %10s %8s\n", "model", "run", "seconds", "images/s", "ratio")
	var perWorker float64
	for _, r := range rows {
		ref, err := timed(filepath.Join(c.bin, "gozoo"), append([]string{"extract", "--threads", fmt.Sprint(c.thr), "--batch-size", "64",
			"--out", filepath.Join(c.work, "ref.npz"), r.dir}, r.model...)...)
		if err != nil {
			return err
		}
		base := float64(r.n) / ref
		fmt.Printf("%-34s %-28s %9.2f %10.1f %8s\n", r.name, "gozoo extract", ref, base, "1.00")
		for _, w := range []int{1, 2} {
			out := filepath.Join(c.work, fmt.Sprintf("beam%d", w), "feats")
			secs, err := timed(filepath.Join(c.bin, "gozoo-beam"), append([]string{"extract", "--runner", "prism", "--workers", fmt.Sprint(w),
				"--threads", fmt.Sprint(max(1, c.thr/w)), "--decode-workers", fmt.Sprint(max(1, c.thr/w)), "--batch-size", "64",
				"--input", filepath.Join(r.dir, "*"), "--output", out}, r.model...)...)
			if err != nil {
				return err
			}
			rate := float64(r.n) / secs
			fmt.Printf("%-34s %-28s %9.2f %10.1f %8.2f\n", r.name, fmt.Sprintf("gozoo-beam prism %d worker(s)", w), secs, rate, rate/base)
			if w == 1 && strings.HasPrefix(r.name, "resnet18 ") {
				perWorker = rate
			}
		}
		merged := filepath.Join(c.work, "merged.npz")
		secs, err := timed(filepath.Join(c.bin, "gozoo"), "features", "merge", "--out", merged, filepath.Join(c.work, "beam2", "feats-manifest.json"))
		if err != nil {
			return err
		}
		fmt.Printf("%-34s %-28s %9.2f %10.1f\n", r.name, "gozoo features merge", secs, float64(r.n)/secs)
		for _, p := range []string{merged, filepath.Join(c.work, "ref.npz"), filepath.Join(c.work, "beam1"), filepath.Join(c.work, "beam2")} {
			os.RemoveAll(p)
		}
	}
	fmt.Printf("\n10 million images with resnet18 at 224x224, at %.1f images/s per %d-thread worker (measured above, whole-job wall time):\n", perWorker, c.thr)
	for _, n := range []int{1, 10, 50, 100} {
		h := 1e7 / (perWorker * float64(n)) / 3600
		fmt.Printf("  %3d workers: %7.1f hours, %7.0f worker-hours, %7.0f vCPU-hours\n", n, h, h*float64(n), h*float64(n*c.thr))
	}
	return nil
}

// timed runs name with args and returns its wall time in seconds.
func timed(name string, args ...string) (float64, error) {
	cmd := exec.Command(name, args...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, out)
	}
	return time.Since(start).Seconds(), nil
}

// fashionPNGs writes the first n Fashion-MNIST test images as PNGs.
func fashionPNGs(dir string, n int) (string, error) {
	ds, err := dataset.OpenKind(fashion, "idx")
	if err != nil {
		return "", fmt.Errorf("%w (apt-get install dataset-fashion-mnist; make setup does)", err)
	}
	if n > len(ds.Samples) {
		return "", fmt.Errorf("-fashion-images %d: the test split has %d", n, len(ds.Samples))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for _, s := range ds.Samples[:n] {
		img, err := s.Decode()
		if err != nil {
			return "", err
		}
		g := image.NewGray(image.Rect(0, 0, img.W, img.H))
		for j := range g.Pix {
			g.Pix[j] = img.Pix[3*j]
		}
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("t10k_%05d.png", s.Index)))
		if err != nil {
			return "", err
		}
		if err := errors.Join(png.Encode(f, g), f.Close()); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// photoCopies fills dir with n copies of the photos in src, in turn.
func photoCopies(dir, src string, n int) (string, error) {
	photos, err := filepath.Glob(filepath.Join(src, "*"))
	if err != nil || len(photos) == 0 {
		return "", fmt.Errorf("no photos in %s", src)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	for i := 0; i < n; i++ {
		p := photos[i%len(photos)]
		b, err := os.ReadFile(p)
		if err != nil {
			return "", err
		}
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("%04d_%s", i, filepath.Base(p))), b, 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}
