package cli

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestZooPullLeavesNoDebris runs gozoo zoo pull as a user would, offline
// and against a local server that fails, then pulls the embedded model
// offline: the weights cache holds no .part and no lock file afterwards.
func TestZooPullLeavesNoDebris(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "gone", http.StatusNotFound)
	}))
	defer srv.Close()
	dir := t.TempDir()
	cache := filepath.Join(dir, "cache")
	t.Setenv("GOZOO_CACHE", cache)
	catalog := `models:
  - name: x.test
    plugin: resnet
    arch: resnet18
    weights:
      url: ` + srv.URL + `/w.pth
      sha256: 0000000000000000000000000000000000000000000000000000000000000000
    preprocess: {resize: 256, crop: 224, interpolation: bilinear, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
`
	os.WriteFile(filepath.Join(dir, "cat.yaml"), []byte(catalog), 0o644)
	debris := func() []string {
		var out []string
		filepath.Walk(cache, func(p string, info os.FileInfo, err error) error {
			if err == nil && (strings.HasSuffix(p, ".part") || strings.HasSuffix(p, ".lock")) {
				out = append(out, p)
			}
			return nil
		})
		return out
	}
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"offline", []string{"zoo", "pull", "--offline", "--catalog", "cat.yaml", "x.test"}, 1, "offline mode forbids downloading"},
		{"HTTP 404", []string{"zoo", "pull", "--catalog", "cat.yaml", "x.test"}, 1, "HTTP 404"},
		{"embedded offline", []string{"zoo", "pull", "--offline", "resnet18_w8.gozoo_fmnist"}, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stderr, code := userRun(t, dir, tc.args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Fatalf("gozoo %s: exit %d; want %d saying %q:\n%s", strings.Join(tc.args, " "), code, tc.code, tc.want, stderr)
			}
			if d := debris(); len(d) > 0 {
				t.Errorf("the cache holds %v afterwards; want no .part or .lock", d)
			}
			if strings.Contains(stderr, ".part") {
				t.Errorf("stderr mentions a partial download that is not there:\n%s", stderr)
			}
		})
	}
}
