// Command servebench measures gozoo serve: throughput at concurrency 16
// and latency at concurrency 1 with dynamic batching on and off, and
// against PyTorch eager behind Python's http.server on the same weights
// and threads. It starts each server itself and prints one row per run
// and the ratios.
//
//	go run ./internal/servebench -gozoo bin/gozoo -plugins bin/plugins
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

func main() {
	gozoo := flag.String("gozoo", "bin/gozoo", "gozoo binary")
	plugins := flag.String("plugins", "bin/plugins", "plugin folder")
	python := flag.String("python", "/usr/bin/python3", "python3 with torch and torchvision")
	threads := flag.Int("threads", 2, "threads for each server")
	size := flag.Int("size", 64, "input height and width")
	n := flag.Int("n", 400, "requests per throughput run (concurrency 16)")
	n1 := flag.Int("n1", 100, "requests per latency run (concurrency 1)")
	flag.Parse()
	if err := run(*gozoo, *plugins, *python, *threads, *size, *n, *n1); err != nil {
		fmt.Fprintln(os.Stderr, "servebench:", err)
		os.Exit(1)
	}
}

type result struct {
	rps      float64
	p50, p99 time.Duration
	fails    int
}

func run(gozoo, plugins, python string, threads, size, n, n1 int) error {
	dir, err := os.MkdirTemp("", "gozoo-servebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	weights := filepath.Join(dir, "resnet18.pth")
	gen := exec.Command(python, "-c", "import torch, torchvision; torch.manual_seed(0); torch.save(torchvision.models.resnet18().state_dict(), '"+weights+"')")
	if out, err := gen.CombinedOutput(); err != nil {
		return fmt.Errorf("write weights: %v\n%s", err, out)
	}
	script := filepath.Join(dir, "server.py")
	if err := os.WriteFile(script, []byte(pyServer), 0o644); err != nil {
		return err
	}
	body := request(size)
	fmt.Printf("serve bench: resnet18 (%s), input [1,3,%d,%d] as JSON, layer avgpool, %d threads per server\n", filepath.Base(weights), size, size, threads)
	rows := map[string][2]result{}
	var batch float64
	for _, mode := range []struct {
		name string
		args []string
	}{{"gozoo batching on", []string{"--max-batch", "8", "--max-delay", "2ms"}}, {"gozoo batching off", []string{"--max-batch", "1"}}} {
		args := append([]string{"--plugin-path", plugins, "serve", "--arch", "resnet18", "--weights", weights, "--name", "m",
			"--threads", strconv.Itoa(threads), "--http", "127.0.0.1:0", "--grpc", "", "--queue", "256"}, mode.args...)
		cmd, addr, err := start(gozoo, args, regexp.MustCompile(`listening: http (\S+),`))
		if err != nil {
			return err
		}
		url := "http://" + addr + "/v2/models/m/infer"
		load(url, body, 1, 10) // warm up
		before := metrics(addr)
		r16 := load(url, body, 16, n)
		after := metrics(addr)
		if mode.name == "gozoo batching on" && after[1] > before[1] {
			batch = (after[0] - before[0]) / (after[1] - before[1])
		}
		r1 := load(url, body, 1, n1)
		rows[mode.name] = [2]result{r16, r1}
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}
	cmd, addr, err := start(python, []string{script, weights, strconv.Itoa(threads)}, regexp.MustCompile(`listening (\S+)`))
	if err != nil {
		return err
	}
	url := "http://" + addr + "/v2/models/m/infer"
	load(url, body, 1, 10)
	rows["python http.server + torch eager"] = [2]result{load(url, body, 16, n), load(url, body, 1, n1)}
	cmd.Process.Kill()
	cmd.Wait()
	for _, name := range []string{"gozoo batching on", "gozoo batching off", "python http.server + torch eager"} {
		r := rows[name]
		fmt.Printf("%-34s c16: %7.1f req/s p50 %8v p99 %8v fails %d | c1: p50 %8v p99 %8v fails %d\n", name,
			r[0].rps, r[0].p50.Round(10*time.Microsecond), r[0].p99.Round(10*time.Microsecond), r[0].fails,
			r[1].p50.Round(10*time.Microsecond), r[1].p99.Round(10*time.Microsecond), r[1].fails)
	}
	on, off, py := rows["gozoo batching on"], rows["gozoo batching off"], rows["python http.server + torch eager"]
	fmt.Printf("ratio c16 throughput batching on/off: %.2fx (mean batch %.2f)\n", on[0].rps/off[0].rps, batch)
	fmt.Printf("ratio c1 p50 latency batching on/off: %.2fx\n", float64(on[1].p50)/float64(off[1].p50))
	fmt.Printf("ratio c16 throughput gozoo (batching on)/python: %.2fx; c1 p50 latency gozoo (off)/python: %.2fx\n",
		on[0].rps/py[0].rps, float64(off[1].p50)/float64(py[1].p50))
	return nil
}

// start runs a server and waits for the line giving its address.
func start(bin string, args []string, re *regexp.Regexp) (*exec.Cmd, string, error) {
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, "", err
	}
	if err := cmd.Start(); err != nil {
		return nil, "", err
	}
	addr := make(chan string, 1)
	var log bytes.Buffer
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		close(addr)
	}()
	select {
	case a, ok := <-addr:
		if ok {
			return cmd, a, nil
		}
	case <-time.After(3 * time.Minute):
	}
	cmd.Process.Kill()
	return nil, "", fmt.Errorf("%s did not start:\n%s", bin, log.String())
}

func request(size int) []byte {
	x := make([]float32, 3*size*size)
	for i := range x {
		x[i] = float32(i%255)/128 - 1
	}
	b, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []int{1, 3, size, size}, "data": x}},
		"outputs": []any{map[string]any{"name": "avgpool"}}})
	return b
}

// load sends n requests from c workers.
func load(url string, body []byte, c, n int) result {
	tr := &http.Transport{MaxIdleConnsPerHost: c}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var next atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	fails := 0
	var wg sync.WaitGroup
	start := time.Now()
	for w := 0; w < c; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				t0 := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				ok := err == nil && resp.StatusCode == 200
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
				mu.Lock()
				if ok {
					lat = append(lat, time.Since(t0))
				} else {
					fails++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	secs := time.Since(start).Seconds()
	slices.Sort(lat)
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[min(len(lat)-1, int(p*float64(len(lat))))]
	}
	return result{rps: float64(len(lat)) / secs, p50: pct(.5), p99: pct(.99), fails: fails}
}

// metrics returns the inference and execution counts of model m.
func metrics(addr string) [2]float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return [2]float64{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out [2]float64
	for i, name := range []string{"gozoo_inference_count_total", "gozoo_inference_exec_count_total"} {
		if m := regexp.MustCompile(`(?m)^` + name + `\{model="m"\} (\S+)$`).FindSubmatch(b); m != nil {
			out[i], _ = strconv.ParseFloat(string(m[1]), 64)
		}
	}
	return out
}

// pyServer is PyTorch eager behind http.server, answering the same KServe
// v2 JSON requests (avgpool of a torchvision resnet18), one request per
// forward pass.
const pyServer = `import json, sys, threading
from http.server import ThreadingHTTPServer, BaseHTTPRequestHandler
import torch, torchvision
weights, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
m = torchvision.models.resnet18()
m.load_state_dict(torch.load(weights))
m.eval()
body = torch.nn.Sequential(*list(m.children())[:-1])
lock = threading.Lock()
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def do_POST(self):
        req = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        t = req["inputs"][0]
        x = torch.tensor(t["data"], dtype=torch.float32).reshape(t["shape"])
        with lock, torch.no_grad():
            y = body(x)
        out = json.dumps({"model_name": "m", "outputs": [{"name": "avgpool", "datatype": "FP32",
            "shape": list(y.shape), "data": y.flatten().tolist()}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
s = ThreadingHTTPServer(("127.0.0.1", 0), H)
print("listening 127.0.0.1:%d" % s.server_address[1], file=sys.stderr, flush=True)
s.serve_forever()
`
