package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

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
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var out bytes.Buffer
	done := make(chan error, 1)
	go func() { done <- run(ctx, &out, l, dir, "") }()
	base := "http://" + l.Addr().String()
	get := func(path string) (int, string) {
		for start := time.Now(); time.Since(start) < time.Minute; time.Sleep(50 * time.Millisecond) {
			resp, err := http.Get(base + path)
			if err != nil {
				continue
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, string(b)
		}
		t.Fatalf("GET %s: no answer in a minute", path)
		return 0, ""
	}
	for _, tt := range []struct {
		path string
		want string
	}{
		{"/hello", "hello from a Go service"},
		{"/v2/health/ready", `"ready":true`},
		{"/v2/models/resnet18", `{"name":"avgpool","datatype":"FP32","shape":[-1,512,1,1]}`},
	} {
		if code, body := get(tt.path); code != 200 || !strings.Contains(body, tt.want) {
			t.Errorf("GET %s = %d %s; want 200 with %s", tt.path, code, body, tt.want)
		}
	}
	req, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []int{1, 3, 224, 224}, "data": make([]float32, 3*224*224)}}})
	resp, err := http.Post(base+"/v2/models/resnet18/infer", "application/json", bytes.NewReader(req))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"name":"avgpool","datatype":"FP32","shape":[1,512,1,1]`) {
		t.Errorf("infer = %d %.200s; want the default output avgpool", resp.StatusCode, b)
	}
	if _, body := get("/metrics"); !strings.Contains(body, `gozoo_inference_request_success_total{model="resnet18"} 1`) {
		t.Errorf("/metrics lacks the success count:\n%.2000s", body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run: %v", err)
	}
	if !strings.Contains(out.String(), "stopped") {
		t.Errorf("output lacks stopped:\n%s", out.String())
	}
}
