package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestZooCommands(t *testing.T) {
	payload := []byte(strings.Repeat("gozoo weights ", 5000))
	sum := sha256.Sum256(payload)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(payload) }))
	defer srv.Close()
	dir := t.TempDir()
	t.Setenv("GOZOO_CACHE", filepath.Join(dir, "cache"))
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(dir, "config")) // no user catalog
	cat := filepath.Join(dir, "zoo.yaml")
	os.WriteFile(cat, []byte(`models:
  - name: mine.local
    plugin: resnet
    arch: resnet18
    weights: {url: `+srv.URL+`/mine-0000.pth, sha256: `+hex.EncodeToString(sum[:])+`}
    preprocess: {resize: 160, crop: 128, interpolation: bicubic}
    layer: layer4
`), 0o644)

	out, _, err := execute(t, &Factory{}, "zoo", "list", "--catalog", cat)
	if err != nil || !strings.Contains(out, "mine.local") || !strings.Contains(out, "resnet50.tv_in1k") || !strings.Contains(out, "resnet18_w8.gozoo_fmnist") {
		t.Fatalf("zoo list = %v\n%s", err, out)
	}
	_, _, err = execute(t, &Factory{}, "zoo", "pull", "--offline", "--catalog", cat, "mine.local")
	if err == nil || !strings.Contains(err.Error(), "offline") {
		t.Fatalf("zoo pull --offline of an uncached model = %v; want an offline error", err)
	}
	out, _, err = execute(t, &Factory{}, "zoo", "pull", "--catalog", cat, "mine.local")
	if err != nil {
		t.Fatal(err)
	}
	path := strings.TrimSpace(strings.SplitN(out, "\t", 2)[1])
	if b, err := os.ReadFile(path); err != nil || string(b) != string(payload) {
		t.Fatalf("pulled file %s: %v", path, err)
	}
	out, _, _ = execute(t, &Factory{}, "zoo", "list", "--catalog", cat)
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "mine.local") && !strings.HasSuffix(strings.TrimSpace(l), "yes") {
			t.Errorf("zoo list after pull: %q; want CACHED yes", l)
		}
	}
	out, _, err = execute(t, &Factory{}, "zoo", "show", "--catalog", cat, "mine.local")
	if err != nil || !strings.Contains(out, "interpolation: bicubic") || !strings.Contains(out, "# from "+cat) {
		t.Errorf("zoo show = %v\n%s", err, out)
	}
	if _, _, err := execute(t, &Factory{}, "zoo", "show", "resnet50.tv"); err == nil || !strings.Contains(err.Error(), "did you mean") {
		t.Errorf("zoo show of a typo = %v; want a suggestion", err)
	}
}
