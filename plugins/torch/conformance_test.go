package torch_test

import (
	"context"
	"os"
	"testing"

	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/plugins/torch"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/sdktest"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv("GOZOO_TORCH_HOST_HELPER"); dir != "" {
		os.Exit(hostHelper(dir))
	}
	code := m.Run()
	testenv.Cleanup()
	removeGozooBinary()
	os.Exit(code)
}

// pluginDir writes a manifest for the test's Python into a temporary
// folder and returns it, ready for host.WithPluginPath.
func pluginDir(t testing.TB) string {
	t.Helper()
	py := testenv.Python(t)
	dir := t.TempDir()
	if _, err := torch.WriteManifest(dir, py, torch.Dir(), map[string]string{"GOZOO_TORCH_THREADS": "2", "GOZOO_TORCH_TRACEBACKS": os.Getenv("GOZOO_TORCH_TRACEBACKS")}); err != nil {
		t.Fatal(err)
	}
	return dir
}

// start runs the torch plugin through the host and returns its Backbone
// and the host client.
func start(t testing.TB, dirs ...string) (sdk.Backbone, *host.Client) {
	t.Helper()
	c, err := host.New(host.WithPluginPath(append([]string{pluginDir(t)}, dirs...)...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	bb, err := c.Backbone(context.Background(), "torch")
	if err != nil {
		t.Fatalf("start the torch plugin: %v", err)
	}
	return bb, c
}

// TestConformance runs sdktest's suite against the Python plugin, started
// by the host from its manifest as a real process.
func TestConformance(t *testing.T) {
	bb, _ := start(t)
	sdktest.Run(t, bb, sdktest.WithArch("resnet18"), sdktest.WithInputShape(-1, 3, 64, 64),
		sdktest.WithLayers("layer1.0.conv1", "layer3.1", "avgpool", "fc"))
}
