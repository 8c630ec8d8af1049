package cli

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	pb "github.com/gozoo/gozoo/internal/inferencev2"
	"github.com/gozoo/gozoo/internal/testenv"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/ort"
	"github.com/gozoo/gozoo/zoo"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// startServe runs `gozoo serve args...` in dir and returns the process,
// its HTTP and gRPC addresses once it listens, its log, and a channel
// that gives its exit once it has ended.
func startServe(t *testing.T, bin, dir string, env []string, args ...string) (*exec.Cmd, string, string, *syncBuffer, <-chan error) {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"}, args...)...)
	cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	log := &syncBuffer{}
	addrs := make(chan []string, 1)
	exited := make(chan error, 1)
	re := regexp.MustCompile(`listening: http (\S+), grpc (\S+)`)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addrs <- m[1:]
			}
		}
		close(addrs)
		exited <- cmd.Wait() // after every read from the pipe, as exec asks
		close(exited)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	select {
	case a, ok := <-addrs:
		if !ok {
			t.Fatalf("gozoo serve exited before listening:\n%s", log.String())
		}
		return cmd, a[0], a[1], log, exited
	case <-time.After(2 * time.Minute):
		t.Fatalf("gozoo serve did not listen within 2 minutes:\n%s", log.String())
	}
	return nil, "", "", nil, nil
}

// syncBuffer is a bytes.Buffer safe for one writer and other readers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func f32le(x []float32) []byte {
	b := make([]byte, 0, 4*len(x))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}

func le32(b []byte) []float32 {
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

// inferHTTP posts an inference request for layers avgpool and fc, with
// JSON data or in the binary-data form, and returns the outputs.
func inferHTTP(t *testing.T, url, input, dtype string, shape []int64, x []float32, img [][]byte, bin bool) map[string][]float32 {
	t.Helper()
	in := map[string]any{"name": input, "datatype": dtype, "shape": shape}
	var raw []byte
	switch {
	case bin && img != nil:
		for _, b := range img {
			raw = binary.LittleEndian.AppendUint32(raw, uint32(len(b)))
			raw = append(raw, b...)
		}
	case bin:
		raw = f32le(x)
	case img != nil:
		in["data"] = img // base64 strings in JSON
	default:
		in["data"] = x
	}
	req := map[string]any{"inputs": []any{in}, "outputs": []any{map[string]any{"name": "avgpool"}, map[string]any{"name": "fc"}}}
	if bin {
		in["parameters"] = map[string]any{"binary_data_size": len(raw)}
		req["parameters"] = map[string]any{"binary_data_output": true}
	}
	head, _ := json.Marshal(req)
	hreq, _ := http.NewRequest("POST", url, bytes.NewReader(append(head, raw...)))
	if bin {
		hreq.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(head)))
	}
	resp, err := http.DefaultClient.Do(hreq)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %s", url, resp.StatusCode, body)
	}
	if h := resp.Header.Get("Inference-Header-Content-Length"); h != "" {
		n, _ := strconv.Atoi(h)
		head, raw = body[:n], body[n:]
	} else {
		head, raw = body, nil
	}
	var out struct {
		Outputs []struct {
			Name       string
			Data       []float32
			Parameters map[string]int
		}
	}
	if err := json.Unmarshal(head, &out); err != nil {
		t.Fatalf("response %q: %v", head, err)
	}
	res := map[string][]float32{}
	for _, o := range out.Outputs {
		if n, ok := o.Parameters["binary_data_size"]; ok {
			res[o.Name], raw = le32(raw[:n]), raw[n:]
		} else {
			res[o.Name] = o.Data
		}
	}
	return res
}

func inferGRPC(t *testing.T, c pb.GRPCInferenceServiceClient, model, input, dtype string, shape []int64, x []float32, img [][]byte) map[string][]float32 {
	t.Helper()
	in := &pb.ModelInferRequest_InferInputTensor{Name: input, Datatype: dtype, Shape: shape}
	req := &pb.ModelInferRequest{ModelName: model, Inputs: []*pb.ModelInferRequest_InferInputTensor{in},
		Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "avgpool"}, {Name: "fc"}}}
	if img != nil {
		in.Contents = &pb.InferTensorContents{BytesContents: img}
	} else {
		req.RawInputContents = [][]byte{f32le(x)}
	}
	resp, err := c.ModelInfer(context.Background(), req)
	if err != nil {
		t.Fatalf("gRPC ModelInfer %s: %v", model, err)
	}
	res := map[string][]float32{}
	for i, o := range resp.Outputs {
		res[o.Name] = le32(resp.RawOutputContents[i])
	}
	return res
}

// compare checks got against gozoo extract's outputs, scaled by their
// magnitude.
func compare(t *testing.T, what string, got map[string][]float32, want map[string]*sdk.Tensor) {
	t.Helper()
	for _, l := range []string{"avgpool", "fc"} {
		w := want[l].Float32
		if len(got[l]) != len(w) {
			t.Errorf("%s: %s has %d values; gozoo extract gave %d", what, l, len(got[l]), len(w))
			continue
		}
		scale := 1e-6
		for _, v := range w {
			scale = math.Max(scale, math.Abs(float64(v)))
		}
		if d := maxAbsDiff(got[l], w) / scale; d > 1e-5 {
			t.Errorf("%s: %s differs from gozoo extract by %.3g (scaled)", what, l, d)
		}
	}
}

// TestServeParity runs the built gozoo serve as a user would and checks
// that the same input sent as JSON, binary HTTP and gRPC, from Go and
// from Python (requests, grpcio), equals gozoo extract on the same
// weights and input, and that a JPEG sent as BYTES equals gozoo extract
// on the same file.
func TestServeParity(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	py := testenv.Python(t)
	if out, err := exec.Command(py, "-c", "import requests, grpc, grpc_tools, numpy").CombinedOutput(); err != nil {
		testenv.Missing(t, "python3-requests, python3-grpcio, python3-grpc-tools", "apt-get install python3-requests python3-grpcio python3-grpc-tools: "+string(out))
	}
	plugins := testenv.BuildPlugin(t, "resnet")
	bin := gozoo(t)
	dir := t.TempDir()
	env := []string{"GOZOO_PLUGIN_PATH=" + plugins}
	run := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir, cmd.Env = dir, append(os.Environ(), env...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("gozoo %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	x := writeInput(t, filepath.Join(dir, "in.npy"), 2, 3, 28, 28)
	os.Mkdir(filepath.Join(dir, "imgs"), 0o755)
	writeImage(t, filepath.Join(dir, "imgs", "a.jpg"), 45, 38, 7)
	jpg, err := os.ReadFile(filepath.Join(dir, "imgs", "a.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	arch := []string{"--arch", "resnet18", "--opt", "width=8,num_classes=10", "--seed", "3"}
	run(append([]string{"extract", "--layers", "avgpool,fc", "--out", "ref.npz", "in.npy"}, arch...)...)
	run("extract", "--model", zoo.DefaultModel, "--layers", "avgpool,fc", "--out", "img.npz", "imgs")
	ref := readLayers(t, filepath.Join(dir, "ref.npz"), "avgpool", "fc")
	imgRef := readLayers(t, filepath.Join(dir, "img.npz"), "avgpool", "fc")

	_, httpAddr, grpcAddr, log, _ := startServe(t, bin, dir, env, append([]string{"--model", zoo.DefaultModel, "--name", "r18", "--threads", "1"}, arch...)...)
	t.Logf("gozoo serve:\n%s", log.String())
	base := "http://" + httpAddr + "/v2/models/"
	shape := []int64{2, 3, 28, 28}
	for _, bin := range []bool{false, true} {
		compare(t, fmt.Sprintf("Go HTTP (binary %v)", bin), inferHTTP(t, base+"r18/infer", "input", "FP32", shape, x.Float32, nil, bin), ref)
		compare(t, fmt.Sprintf("Go HTTP JPEG (binary %v)", bin), inferHTTP(t, base+zoo.DefaultModel+"/infer", "image", "BYTES", []int64{1}, nil, [][]byte{jpg}, bin), imgRef)
	}
	cc, err := grpc.NewClient(grpcAddr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := pb.NewGRPCInferenceServiceClient(cc)
	compare(t, "Go gRPC", inferGRPC(t, c, "r18", "input", "FP32", shape, x.Float32, nil), ref)
	compare(t, "Go gRPC JPEG", inferGRPC(t, c, zoo.DefaultModel, "image", "BYTES", []int64{1}, nil, [][]byte{jpg}), imgRef)

	// The Python client: stubs generated here from the project's proto.
	proto, err := filepath.Abs("../inferencev2/grpc_predict_v2.proto")
	if err != nil {
		t.Fatal(err)
	}
	pyDir := t.TempDir()
	gen := exec.Command(py, "-m", "grpc_tools.protoc", "-I", filepath.Dir(proto), "--python_out", pyDir, "--grpc_python_out", pyDir, proto)
	if out, err := gen.CombinedOutput(); err != nil {
		t.Fatalf("grpc_tools.protoc: %v\n%s", err, out)
	}
	script := filepath.Join(pyDir, "client.py")
	if err := os.WriteFile(script, []byte(pythonClient), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(py, script, "http://"+httpAddr, grpcAddr, filepath.Join(dir, "in.npy"), filepath.Join(dir, "imgs", "a.jpg"), zoo.DefaultModel)
	cmd.Dir = pyDir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("python client: %v\n%s", err, stderr.String())
	}
	var results map[string]map[string][]float32
	if err := json.Unmarshal(out, &results); err != nil {
		t.Fatalf("python client output: %v\n%s", err, out)
	}
	for _, what := range []string{"json", "binary", "grpc", "jpeg_binary", "jpeg_grpc"} {
		want := ref
		if strings.HasPrefix(what, "jpeg") {
			want = imgRef
		}
		if results[what] == nil {
			t.Errorf("python client gave no %s result", what)
			continue
		}
		compare(t, "Python "+what, results[what], want)
	}
}

// pythonClient is a KServe v2 client in Python (requests and grpcio, as a
// Python team would write it); it prints every result as JSON.
const pythonClient = `import json, struct, sys
import numpy as np, requests, grpc
import grpc_predict_v2_pb2 as pb, grpc_predict_v2_pb2_grpc as pbg

base, gaddr, npy, jpg, imgmodel = sys.argv[1:6]
x = np.load(npy).astype(np.float32)
img = open(jpg, "rb").read()
outs = [{"name": "avgpool"}, {"name": "fc"}]
res = {}

r = requests.post(base + "/v2/models/r18/infer", json={"inputs": [{"name": "input", "datatype": "FP32",
    "shape": list(x.shape), "data": x.flatten().tolist()}], "outputs": outs})
r.raise_for_status()
res["json"] = {o["name"]: o["data"] for o in r.json()["outputs"]}

def binary(model, inp, dtype, shape, raw):
    head = json.dumps({"inputs": [{"name": inp, "datatype": dtype, "shape": shape,
        "parameters": {"binary_data_size": len(raw)}}], "outputs": outs,
        "parameters": {"binary_data_output": True}}).encode()
    r = requests.post(base + "/v2/models/%s/infer" % model, data=head + raw,
        headers={"Inference-Header-Content-Length": str(len(head))})
    r.raise_for_status()
    n = int(r.headers["Inference-Header-Content-Length"])
    meta, data = json.loads(r.content[:n]), r.content[n:]
    got = {}
    for o in meta["outputs"]:
        size = o["parameters"]["binary_data_size"]
        got[o["name"]] = np.frombuffer(data[:size], dtype="<f4").tolist()
        data = data[size:]
    return got

res["binary"] = binary("r18", "input", "FP32", list(x.shape), x.astype("<f4").tobytes())
res["jpeg_binary"] = binary(imgmodel, "image", "BYTES", [1], struct.pack("<I", len(img)) + img)

stub = pbg.GRPCInferenceServiceStub(grpc.insecure_channel(gaddr))
def infer(model, inp, dtype, shape, raw=None, contents=None):
    t = pb.ModelInferRequest.InferInputTensor(name=inp, datatype=dtype, shape=shape)
    if contents is not None:
        t.contents.CopyFrom(contents)
    req = pb.ModelInferRequest(model_name=model, inputs=[t],
        outputs=[pb.ModelInferRequest.InferRequestedOutputTensor(name=o["name"]) for o in outs])
    if raw is not None:
        req.raw_input_contents.append(raw)
    resp = stub.ModelInfer(req, timeout=60)
    return {o.name: np.frombuffer(resp.raw_output_contents[i], dtype="<f4").tolist() for i, o in enumerate(resp.outputs)}

res["grpc"] = infer("r18", "input", "FP32", list(x.shape), raw=x.astype("<f4").tobytes())
res["jpeg_grpc"] = infer(imgmodel, "image", "BYTES", [1], contents=pb.InferTensorContents(bytes_contents=[img]))
json.dump(res, sys.stdout)
`

// childPIDs lists the processes whose parent is pid.
func childPIDs(pid int) []int {
	ents, _ := filepath.Glob("/proc/[0-9]*/stat")
	var out []int
	for _, e := range ents {
		b, err := os.ReadFile(e)
		if err != nil {
			continue
		}
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			p, _ := strconv.Atoi(strings.Fields(s)[0])
			out = append(out, p)
		}
	}
	return out
}

// TestServeDrain sends SIGTERM to the built gozoo serve under load: no
// accepted request fails (every answer is 200, or after the signal a 503
// saying the server is shutting down, and no request sent before the
// signal loses its connection), and the process and its plugins are gone
// within the drain timeout.
func TestServeDrain(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	bin := gozoo(t)
	dir := t.TempDir()
	cmd, httpAddr, _, log, exited := startServe(t, bin, dir, []string{"GOZOO_PLUGIN_PATH=" + plugins},
		"--threads", "1", "--instances", "2", "--drain-timeout", "10s", "--max-batch", "4")
	kids := childPIDs(cmd.Process.Pid)
	if len(kids) != 2 {
		t.Fatalf("gozoo serve has children %v; want 2 plugin processes", kids)
	}
	url := "http://" + httpAddr + "/v2/models/" + zoo.DefaultModel + "/infer"
	body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []int{1, 3, 28, 28}, "data": make([]float32, 3*28*28)}}})
	var (
		mu                         sync.Mutex
		sigAt                      time.Time
		ok, okAfter, refused, late int
		failures                   []string
		wg                         sync.WaitGroup
		stop                       = make(chan struct{})
		tr                         = &http.Transport{MaxIdleConnsPerHost: 8}
		client                     = &http.Client{Transport: tr}
		record                     = func(f func()) { mu.Lock(); f(); mu.Unlock() }
		beforeSignal               = func(start time.Time) bool { return sigAt.IsZero() || start.Before(sigAt) } // mu held
		_, _                       = refused, late
		drainStarted, drainEnd     time.Time
	)
	defer tr.CloseIdleConnections()
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				start := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					record(func() {
						if beforeSignal(start) {
							failures = append(failures, "sent before SIGTERM: "+err.Error())
						} else {
							refused++
						}
					})
					time.Sleep(5 * time.Millisecond)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				record(func() {
					switch {
					case resp.StatusCode == 200:
						ok++
						if !sigAt.IsZero() {
							okAfter++ // in flight at the signal, answered during the drain
						}
					case resp.StatusCode == 503 && !sigAt.IsZero() && bytes.Contains(b, []byte("shutting down")):
						// Refused at the door after the signal (it may have
						// been sent just before it): never accepted, so not
						// an in-flight request.
						late++
					default:
						failures = append(failures, fmt.Sprintf("%d %s", resp.StatusCode, b))
					}
				})
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	record(func() { sigAt = time.Now() })
	drainStarted = time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		drainEnd = time.Now()
		// Exit status 143 (128 + SIGTERM) after a clean drain, as Main
		// reports every command stopped by a signal.
		if code := cmd.ProcessState.ExitCode(); err != nil && code != 143 {
			t.Errorf("gozoo serve exited with %v after SIGTERM; want status 143\n%s", err, log.String())
		}
		if !strings.Contains(log.String(), "stopped in") {
			t.Errorf("gozoo serve did not drain before exiting:\n%s", log.String())
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("gozoo serve still running 15 s after SIGTERM (drain timeout 10 s)\n%s", log.String())
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	t.Logf("drain: %d ok (%d of them answered after SIGTERM), %d refused with 503 and %d connections refused after SIGTERM; exited %v after the signal",
		ok, okAfter, late, refused, drainEnd.Sub(drainStarted).Round(time.Millisecond))
	if okAfter == 0 {
		t.Error("no request was answered during the drain: nothing was in flight at the signal")
	}
	for _, f := range failures {
		t.Errorf("request failed: %s", f)
	}
	if ok == 0 {
		t.Error("no request succeeded before the signal")
	}
	for _, pid := range kids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("plugin process %d still runs after gozoo serve exited", pid)
		}
	}
	if !strings.Contains(log.String(), "draining") {
		t.Errorf("gozoo serve did not report draining:\n%s", log.String())
	}
}

func TestServeUsageErrors(t *testing.T) {
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--max-batch", "0"}, "--max-batch 0"},
		{[]string{"serve", "--queue", "0"}, "--queue 0"},
		{[]string{"serve", "--instances", "0"}, "--instances 0"},
		{[]string{"serve", "--drain-timeout", "0s"}, "--drain-timeout 0s"},
		{[]string{"serve", "--http", ""}, "--http is required"},
		{[]string{"serve", "--name", "x"}, "--name names the --arch model"},
		{[]string{"serve", "extra"}, "unknown command"},
	} {
		_, _, err := execute(t, &Factory{}, tt.args...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("gozoo %s = %v; want a usage error with %q", strings.Join(tt.args, " "), err, tt.want)
		}
	}
}

// TestServeDrainOutlastsStopGrace checks that a drain longer than Main's
// usual stop grace is not cut short: a request held 3 s by --max-delay
// (standing in for a long computation) is in flight at SIGTERM and still
// succeeds.
func TestServeDrainOutlastsStopGrace(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	bin := gozoo(t)
	cmd, httpAddr, _, log, exited := startServe(t, bin, t.TempDir(), []string{"GOZOO_PLUGIN_PATH=" + plugins},
		"--threads", "1", "--max-delay", "3s", "--drain-timeout", "20s")
	body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "input", "datatype": "FP32", "shape": []int{1, 3, 28, 28}, "data": make([]float32, 3*28*28)}}})
	code := make(chan int, 1)
	go func() {
		resp, err := http.Post("http://"+httpAddr+"/v2/models/"+zoo.DefaultModel+"/infer", "application/json", bytes.NewReader(body))
		if err != nil {
			code <- 0
			return
		}
		resp.Body.Close()
		code <- resp.StatusCode
	}()
	time.Sleep(500 * time.Millisecond)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if c := <-code; c != 200 {
		t.Errorf("request in flight at SIGTERM got %d; want 200\n%s", c, log.String())
	}
	select {
	case <-exited:
	case <-time.After(25 * time.Second):
		t.Fatalf("gozoo serve still running 25 s after SIGTERM\n%s", log.String())
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("gozoo serve exited %v after SIGTERM; the held request needed about 2.5 s", d)
	}
}

// TestServeKilledTakesPlugins SIGKILLs gozoo serve: its plugin processes
// must not outlive it.
func TestServeKilledTakesPlugins(t *testing.T) {
	testenv.ORT(t, ort.LibraryPath())
	plugins := testenv.BuildPlugin(t, "resnet")
	bin := gozoo(t)
	cmd, _, _, _, exited := startServe(t, bin, t.TempDir(), []string{"GOZOO_PLUGIN_PATH=" + plugins}, "--threads", "1", "--instances", "2")
	kids := childPIDs(cmd.Process.Pid)
	if len(kids) != 2 {
		t.Fatalf("gozoo serve has children %v; want 2 plugin processes", kids)
	}
	cmd.Process.Signal(syscall.SIGKILL)
	<-exited
	deadline := time.Now().Add(5 * time.Second)
	for _, pid := range kids {
		for syscall.Kill(pid, 0) == nil {
			if time.Now().After(deadline) {
				t.Fatalf("plugin process %d still runs 5 s after gozoo serve was killed", pid)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}
