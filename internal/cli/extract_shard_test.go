package cli

import (
	"math/rand"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/npy"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
)

func TestShardTensor(t *testing.T) {
	// [2, 5, 2]: 5 rows on axis 1 (sequence-major), values encode positions.
	x := make([]float32, 20)
	for i := range x {
		x[i] = float32(i)
	}
	seq := &sdk.Tensor{Shape: []int64{2, 5, 2}, Float32: x}
	flat := &sdk.Tensor{Shape: []int64{5, 2}, Int64: []int64{0, 1, 10, 11, 20, 21, 30, 31, 40, 41}}
	for _, tc := range []struct {
		name       string
		in         *sdk.Tensor
		lengths    []int64
		axis, i, n int
		shape      []int64
		f32        []float32
		i64        []int64
		lens, idx  []int64
		err        string
	}{
		{name: "rows first, int64", in: flat, axis: 0, i: 1, n: 2, shape: []int64{2, 2}, i64: []int64{10, 11, 30, 31}, idx: []int64{1, 3}},
		{name: "sequence-major", in: seq, lengths: []int64{5, 4, 3, 2, 1}, axis: 1, i: 0, n: 2,
			shape: []int64{2, 3, 2}, f32: []float32{0, 1, 4, 5, 8, 9, 10, 11, 14, 15, 18, 19}, lens: []int64{5, 3, 1}, idx: []int64{0, 2, 4}},
		{name: "empty shard", in: flat, axis: 0, i: 6, n: 7, err: "holds no row"},
		{name: "lengths mismatch", in: flat, lengths: []int64{1}, axis: 0, i: 0, n: 2, err: "1 lengths for 5 rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, lens, idx, err := shardTensor(tc.in, tc.lengths, tc.axis, tc.i, tc.n)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("shardTensor = %v; want an error containing %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(out.Shape, tc.shape) || !slices.Equal(out.Float32, tc.f32) || !slices.Equal(out.Int64, tc.i64) ||
				!slices.Equal(lens, tc.lens) || !slices.Equal(idx.Int64, tc.idx) {
				t.Errorf("shardTensor = %v %v %v, lengths %v, index %v; want %v %v %v, %v, %v",
					out.Shape, out.Float32, out.Int64, lens, idx.Int64, tc.shape, tc.f32, tc.i64, tc.lens, tc.idx)
			}
		})
	}
}

// TestShardEveryInputKind runs extract --shard 0/2 and 1/2 over a .npy
// tensor, a folder, a list file and IDX images: the two shards partition
// the rows of an unsharded run, with the same features; .npz and other
// containers are refused as input.
func TestShardEveryInputKind(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	dir := t.TempDir()
	rng := rand.New(rand.NewSource(1))
	x := make([]float32, 5*3*32*32)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	if err := npy.WriteFile(filepath.Join(dir, "x.npy"), &sdk.Tensor{Shape: []int64{5, 3, 32, 32}, Float32: x}); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "imgs"), 0o755)
	var list []string
	for i := 0; i < 5; i++ {
		name := "a" + string(rune('0'+i)) + ".png"
		writeImage(t, filepath.Join(dir, "imgs", name), 40, 40, int64(i))
		list = append(list, "imgs/"+name)
	}
	os.WriteFile(filepath.Join(dir, "list.txt"), []byte(strings.Join(list, "\n")+"\n"), 0o644)
	idx := []byte{0, 0, 8, 3, 0, 0, 0, 5, 0, 0, 0, 28, 0, 0, 0, 28}
	for i := 0; i < 5*28*28; i++ {
		idx = append(idx, byte(rng.Intn(256)))
	}
	os.WriteFile(filepath.Join(dir, "t10k-images-idx3-ubyte"), idx, 0o644)

	flags := []string{"extract", "--arch", "resnet18", "--opt", "width=8", "--layers", "avgpool", "--batch-size", "5", "--threads", "1"}
	for _, in := range []string{"x.npy", "imgs", "list.txt", "t10k-images-idx3-ubyte"} {
		t.Run(in, func(t *testing.T) {
			args := slices.Clone(flags)
			if in != "x.npy" {
				args = append(args, "--resize", "36", "--crop", "32")
			}
			full := runShard(t, dir, args, in, "")
			var rows []int64
			for s := 0; s < 2; s++ {
				shard := runShard(t, dir, args, in, []string{"0/2", "1/2"}[s])
				for j, r := range shard.rows {
					if r%2 != int64(s) {
						t.Errorf("shard %d/2 holds row %d", s, r)
					}
					per := len(full.feats) / len(full.rows)
					if d := maxAbsDiff(shard.feats[j*per:(j+1)*per], full.feats[int(r)*per:(int(r)+1)*per]); d > 1e-5 {
						t.Errorf("shard %d/2 row %d differs from the unsharded run by %g", s, r, d)
					}
				}
				rows = append(rows, shard.rows...)
			}
			slices.Sort(rows)
			if !slices.Equal(rows, []int64{0, 1, 2, 3, 4}) {
				t.Errorf("shards 0/2 and 1/2 hold rows %v; want 0..4 once each", rows)
			}
		})
	}
	for _, in := range []string{"x.npz", "w.safetensors"} {
		os.WriteFile(filepath.Join(dir, in), []byte("PK"), 0o644)
		stderr, code := userRun(t, dir, append(slices.Clone(flags), "--out", "o.npz", in)...)
		if code != 2 || !strings.Contains(stderr, "numpy.save") {
			t.Errorf("extract %s: exit %d; want usage error 2 saying to save a .npy:\n%s", in, code, stderr)
		}
	}
}

type shardOut struct {
	rows  []int64 // input positions
	feats []float32
}

// runShard extracts in (with --shard shard unless empty) and returns the
// rows' input positions and avgpool features.
func runShard(t *testing.T, dir string, args []string, in, shard string) shardOut {
	t.Helper()
	out := "o.npz"
	if in != "x.npy" {
		out = "o.safetensors"
	}
	os.Remove(filepath.Join(dir, out))
	args = append(slices.Clone(args), "--out", out, in)
	if shard != "" {
		args = append(args, "--shard", shard)
	}
	stderr, code := userRun(t, dir, args...)
	if code != 0 {
		t.Fatalf("gozoo %s: exit %d\n%s", strings.Join(args, " "), code, stderr)
	}
	path := filepath.Join(dir, out)
	if in == "x.npy" {
		m, _, err := npy.ReadNPZ(path)
		if err != nil {
			t.Fatal(err)
		}
		res := shardOut{feats: m["avgpool"].Float32}
		if ix := m["index"]; ix != nil {
			res.rows = ix.Int64
		} else if shard != "" {
			t.Fatalf("sharded %s output has no index array", in)
		} else {
			for r := int64(0); r < m["avgpool"].Shape[0]; r++ {
				res.rows = append(res.rows, r)
			}
		}
		return res
	}
	feats, paths := readFeatures(t, path, "avgpool")
	res := shardOut{feats: feats}
	for _, p := range paths {
		// a3.png, imgs/a3.png or FILE#3: the position is the last digit.
		p = strings.TrimSuffix(p, ".png")
		res.rows = append(res.rows, int64(p[len(p)-1]-'0'))
	}
	return res
}
