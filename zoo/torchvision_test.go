package zoo

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
)

// tvWeights maps a catalog name's suffix to torchvision's weights enum
// member.
var tvWeights = map[string]string{"tv_in1k": "IMAGENET1K_V1", "tv2_in1k": "IMAGENET1K_V2"}

// tvEnums prints, for each [arch, member] on stdin, what torchvision's
// weights enum says: URL, eval transform, accuracy and parameter count,
// and every IMAGENET1K member the arch has.
const tvEnums = `
import json, sys
import torchvision.models as M
out = []
for arch, member in json.load(sys.stdin):
    ws = M.get_model_weights(arch)
    w = ws[member]
    t = w.transforms()
    acc = w.meta["_metrics"]["ImageNet-1K"]
    out.append({"url": w.url, "resize": t.resize_size[0], "crop": t.crop_size[0],
                "interpolation": t.interpolation.value, "mean": list(t.mean), "std": list(t.std),
                "top1": acc["acc@1"], "top5": acc["acc@5"], "num_params": w.meta["num_params"],
                "members": [m.name for m in ws if m.name.startswith("IMAGENET1K_")]})
json.dump(out, sys.stdout)
`

// torchvision's hash check takes the digest prefix from the file name
// (torch.hub's HASH_REGEX).
var hashRegex = regexp.MustCompile(`-([a-f0-9]*)\.`)

// TestTorchvisionEntries checks every embedded NAME.tv_in1k and
// NAME.tv2_in1k entry against torchvision's own weights enum: URL, hash
// prefix, eval transform (resize, crop, interpolation, mean, std),
// accuracy and parameter count, and that an arch with entries has one
// for each of torchvision's IMAGENET1K weights. Entries added for new
// archs are checked without naming them here.
func TestTorchvisionEntries(t *testing.T) {
	py := testenv.Python(t)
	c, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var entries []*Entry
	var query [][2]string
	for _, e := range c.Entries() {
		i := strings.LastIndexByte(e.Name, '.')
		member, ok := tvWeights[e.Name[i+1:]]
		if !ok || !strings.HasPrefix(e.Source, "embedded:") {
			continue
		}
		if e.Name[:i] != e.Arch {
			t.Errorf("%s: arch %s; want %s, the name's torchvision arch", e.Name, e.Arch, e.Name[:i])
		}
		entries = append(entries, e)
		query = append(query, [2]string{e.Arch, member})
	}
	if len(entries) < 20 {
		t.Fatalf("%d torchvision entries in the embedded catalog; want every first-party arch's", len(entries))
	}
	in, _ := json.Marshal(query)
	cmd := exec.Command(py, "-c", tvEnums)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("reading torchvision's weights enums: %v\n%s", err, stderr.String())
	}
	var want []struct {
		URL           string    `json:"url"`
		Resize        int       `json:"resize"`
		Crop          int       `json:"crop"`
		Interpolation string    `json:"interpolation"`
		Mean          []float32 `json:"mean"`
		Std           []float32 `json:"std"`
		Top1          float64   `json:"top1"`
		Top5          float64   `json:"top5"`
		NumParams     int64     `json:"num_params"`
		Members       []string  `json:"members"`
	}
	if err := json.Unmarshal(out, &want); err != nil || len(want) != len(entries) {
		t.Fatalf("torchvision's weights enums: %v (%d answers for %d entries)", err, len(want), len(entries))
	}
	for i, e := range entries {
		w := want[i]
		p := e.Preprocess
		if e.Weights.URL != w.URL {
			t.Errorf("%s: url %s; torchvision's %s", e.Name, e.Weights.URL, w.URL)
		}
		if m := hashRegex.FindStringSubmatch(w.URL[strings.LastIndexByte(w.URL, '/')+1:]); m == nil || e.Weights.HashPrefix != m[1] {
			t.Errorf("%s: hash_prefix %s; torchvision checks %v", e.Name, e.Weights.HashPrefix, m)
		}
		if p.Resize != w.Resize || !slices.Equal(p.Crop, Size{w.Crop}) || p.Interpolation != w.Interpolation ||
			!slices.Equal(p.Mean, w.Mean) || !slices.Equal(p.Std, w.Std) {
			t.Errorf("%s: preprocess %s; torchvision's resize %d (%s), crop %d, mean %v, std %v",
				e.Name, p, w.Resize, w.Interpolation, w.Crop, w.Mean, w.Std)
		}
		if e.Metrics["imagenet_top1"] != w.Top1 || e.Metrics["imagenet_top5"] != w.Top5 {
			t.Errorf("%s: metrics %v; torchvision's top1 %v, top5 %v", e.Name, e.Metrics, w.Top1, w.Top5)
		}
		if params := fmt.Sprintf("(%s parameters)", commas(w.NumParams)); !strings.Contains(e.Doc, params) {
			t.Errorf("%s: doc %q lacks torchvision's %s", e.Name, e.Doc, params)
		}
		for _, m := range w.Members {
			for suffix, member := range tvWeights {
				if member != m {
					continue
				}
				if _, err := c.Lookup(e.Arch + "." + suffix); err != nil {
					t.Errorf("torchvision has %s.%s but the catalog has no %s.%s", e.Arch, m, e.Arch, suffix)
				}
			}
		}
	}
}

// commas formats n with thousands separators, as Python's "{:,}".
func commas(n int64) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
