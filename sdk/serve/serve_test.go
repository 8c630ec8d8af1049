package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	pb "github.com/gozoo/gozoo/internal/inferencev2"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/zoo/imageproc"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// post sends body to url with optional headers and returns the status,
// the response headers and body.
func post(t *testing.T, url string, body []byte, hdr map[string]string) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Errorf("POST %s: %v", url, err)
		return 0, nil, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

type outJSON struct {
	Outputs []struct {
		Name       string         `json:"name"`
		Shape      []int64        `json:"shape"`
		Data       []float32      `json:"data"`
		Parameters map[string]int `json:"parameters"`
	} `json:"outputs"`
	Error string `json:"error"`
}

func inferJSON(x []float32, outputs ...string) []byte {
	req := map[string]any{"inputs": []map[string]any{{"name": "input", "datatype": "FP32", "shape": []int{len(x) / 4, 4}, "data": x}}}
	var outs []map[string]any
	for _, o := range outputs {
		outs = append(outs, map[string]any{"name": o})
	}
	if outs != nil {
		req["outputs"] = outs
	}
	b, _ := json.Marshal(req)
	return b
}

func TestMalformedRequests(t *testing.T) {
	f := &fakeModel{}
	tf := imageproc.ImageNet()
	tf.ResizeSize, tf.CropH, tf.CropW = 0, 4, 4
	_, hs := fakeServer(t, f, func(m *Model) { m.Transform = nil }, WithMaxBodyBytes(4096))
	url := hs.URL + "/v2/models/fake/infer"
	good := inferJSON([]float32{1, 2, 3, 4})
	binHead := `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"parameters":{"binary_data_size":16}}]}`
	tests := []struct {
		name   string
		url    string
		body   string
		hdr    map[string]string
		status int
		want   string
	}{
		{"bad JSON", url, `{"inputs":[`, nil, 400, "not a valid inference request"},
		{"not an object", url, `[1,2]`, nil, 400, "not a valid inference request"},
		{"trailing data", url, string(good) + `xx`, nil, 400, "data after its end"},
		{"unknown model", hs.URL + "/v2/models/nope/infer", string(good), nil, 404, `unknown model "nope"`},
		{"unknown version", hs.URL + "/v2/models/fake/versions/7/infer", string(good), nil, 404, `no version "7"`},
		{"unknown output", url, string(inferJSON([]float32{1, 2, 3, 4}, "dubble")), nil, 400, `no output "dubble"; did you mean double`},
		{"output twice", url, string(inferJSON([]float32{1, 2, 3, 4}, "sum", "sum")), nil, 400, "requested twice"},
		{"unknown input", url, `{"inputs":[{"name":"x","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}`, nil, 400, `no input "x"`},
		{"no inputs", url, `{"inputs":[]}`, nil, 400, "no inputs"},
		{"dtype", url, `{"inputs":[{"name":"input","datatype":"INT64","shape":[1,4],"data":[1,2,3,4]}]}`, nil, 400, "is INT64; model fake wants FP32"},
		{"unsupported dtype", url, `{"inputs":[{"name":"input","datatype":"FP16","shape":[1,4],"data":[1,2,3,4]}]}`, nil, 400, `datatype "FP16" is not supported`},
		{"shape", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,5],"data":[1,2,3,4,5]}]}`, nil, 400, "wants [N, 4]"},
		{"zero rows", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[0,4],"data":[]}]}`, nil, 400, "at least one row"},
		{"negative dim", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[-1,4],"data":[1,2,3,4]}]}`, nil, 400, "negative dimension"},
		{"too few data", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[2,4],"data":[1.5,2.5,3.5,4.5]}]}`, nil, 400, "needs 8 elements; data has 4"},
		{"too many data", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,3,4,5]}]}`, nil, 400, "more than the 4 elements"},
		{"string data", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":["a","b","c","d"]}]}`, nil, 400, "want numbers"},
		{"1e12 elements", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[1000000,1000000],"data":[1]}]}`, nil, 400, "more than the 4096 elements"},
		{"overflowing shape", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[4294967296,4294967296,4294967296],"data":[1]}]}`, nil, 400, "more than the 4096 elements"},
		{"too many rows", url, string(inferJSON(make([]float32, 4*9))), nil, 400, "at most 8 per request"},
		{"header past body", url, binHead, map[string]string{HeaderContentLength: "100000"}, 400, "past the"},
		{"header not a number", url, binHead, map[string]string{HeaderContentLength: "abc"}, 400, "non-negative byte count"},
		{"binary size past data", url, binHead + "\x00\x00", map[string]string{HeaderContentLength: strconv.Itoa(len(binHead))}, 400, "binary_data_size 16 is past the 2 bytes"},
		{"binary size mismatch", url, strings.Replace(binHead, "16", "12", 1) + strings.Repeat("\x00", 12), map[string]string{HeaderContentLength: strconv.Itoa(len(binHead))}, 400, "needs 16 bytes; got 12"},
		{"unclaimed binary", url, string(good) + "\x00\x00", map[string]string{HeaderContentLength: strconv.Itoa(len(good))}, 400, "not claimed"},
		{"oversized body", url, `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[` + strings.Repeat("1,", 3000) + `1]}]}`, nil, 413, "over the 4096-byte limit"},
		{"image without preprocessing", url, `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGVsbG8="]}]}`, nil, 400, "takes no images"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := post(t, tt.url, []byte(tt.body), tt.hdr)
			var e struct{ Error string }
			json.Unmarshal(body, &e)
			if code != tt.status || !strings.Contains(e.Error, tt.want) {
				t.Errorf("POST %s = %d %s; want %d with %q", tt.name, code, body, tt.status, tt.want)
			}
		})
	}
	if got := f.batchSizes(); len(got) != 0 {
		t.Errorf("malformed requests reached the model: batches %v", got)
	}
}

func TestMalformedImages(t *testing.T) {
	f := &fakeModel{}
	tf := imageproc.ImageNet()
	tf.ResizeSize, tf.CropH, tf.CropW, tf.MinSide = 0, 1, 1, 0
	_, hs := fakeServer(t, f, func(m *Model) { m.Transform = &tf; m.InputShape = nil })
	// The transform makes [3, 1, 1] rows, which the fake's [N, 4] layers
	// do not match; only the decoding is under test here.
	url := hs.URL + "/v2/models/fake/infer"
	for _, tt := range []struct{ name, body, want string }{
		{"not an image", `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGVsbG8gd29ybGQ="]}]}`, "not an image the model can take"},
		{"not base64", `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["%%%"]}]}`, "not base64"},
		{"FP32 as image", `{"inputs":[{"name":"image","datatype":"FP32","shape":[1],"data":[1]}]}`, "want BYTES"},
		{"image shape", `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1,2],"data":["aA==","aA=="]}]}`, "want [N] or [N, 1]"},
		{"both inputs", `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aA=="]},{"name":"input","datatype":"FP32","shape":[1,3,1,1],"data":[1,2,3]}]}`, "both given"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := post(t, url, []byte(tt.body), nil)
			if code != 400 || !strings.Contains(string(body), tt.want) {
				t.Errorf("POST %s = %d %s; want 400 with %q", tt.name, code, body, tt.want)
			}
		})
	}
	// A truncated BYTES element in binary form.
	head := `{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]}`
	body := append([]byte(head), 100, 0, 0, 0, 1, 2)
	code, _, b := post(t, url, body, map[string]string{HeaderContentLength: strconv.Itoa(len(head))})
	if code != 400 || !strings.Contains(string(b), "claims 100 bytes") {
		t.Errorf("truncated BYTES element = %d %s; want 400", code, b)
	}
}

// TestOutputsNotBatchLeading checks that a layer whose first dimension is
// not the batch is refused at start, with the reason.
func TestOutputsNotBatchLeading(t *testing.T) {
	f := &fakeModel{}
	_, err := New(context.Background(), []Model{{Name: "fake", InputShape: []int64{4}, Outputs: []string{"h_n"},
		Open: func(context.Context, int) (*Instance, error) { return &Instance{Model: f}, nil }}})
	if err == nil || !strings.Contains(err.Error(), "not the batch") {
		t.Fatalf("New with output h_n = %v; want an error saying its first dimension is not the batch", err)
	}
	_, err = New(context.Background(), []Model{{Name: "fake", InputShape: []int64{4}, Outputs: []string{"dubble"},
		Open: func(context.Context, int) (*Instance, error) { return &Instance{Model: f}, nil }}})
	if err == nil || !strings.Contains(err.Error(), "did you mean double") {
		t.Fatalf("New with output dubble = %v; want a suggestion", err)
	}
}

// TestBatchAxisNotFirst checks that a model whose input has its batch
// elsewhere than the first dimension ([T, N, F]) is refused at start:
// requests are batched along the first.
func TestBatchAxisNotFirst(t *testing.T) {
	f := &fakeModel{}
	in := sdk.InputSpec{Shape: []int64{-1, -1, 4}, DType: sdk.Float32, BatchAxis: 1}
	_, err := New(context.Background(), []Model{{Name: "fake", InputShape: []int64{-1, 4}, Outputs: []string{"double"},
		Open: func(context.Context, int) (*Instance, error) { return &Instance{Model: f, Input: in}, nil }}})
	if err == nil || !strings.Contains(err.Error(), "batch as dimension 1") || !strings.Contains(err.Error(), "puts the batch first") {
		t.Fatalf("New with a [T, N, F] model = %v; want an error saying the batch must come first", err)
	}
}

// TestBatchingUnion sends concurrent requests asking for different
// outputs: they share forward passes, and each gets exactly its rows and
// its outputs.
func TestBatchingUnion(t *testing.T) {
	f := &fakeModel{delay: 20 * time.Millisecond}
	s, hs := fakeServer(t, f, func(m *Model) { m.MaxBatch, m.MaxDelay = 8, 10*time.Millisecond })
	const n = 24
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := []float32{float32(i), 1, 2, 3}
			var outs []string
			switch i % 3 {
			case 1:
				outs = []string{"double"}
			case 2:
				outs = []string{"sum", "double"}
			}
			resp, err := http.Post(hs.URL+"/v2/models/fake/infer", "application/json", bytes.NewReader(inferJSON(x, outs...)))
			if err != nil {
				errs <- err
				return
			}
			defer resp.Body.Close()
			var o outJSON
			json.NewDecoder(resp.Body).Decode(&o)
			if resp.StatusCode != 200 {
				errs <- fmt.Errorf("request %d: %d %s", i, resp.StatusCode, o.Error)
				return
			}
			want := outs
			if want == nil {
				want = []string{"sum"} // the default: the last output
			}
			if len(o.Outputs) != len(want) {
				errs <- fmt.Errorf("request %d: outputs %+v; want %v", i, o.Outputs, want)
				return
			}
			for k, name := range want {
				got := o.Outputs[k]
				var w []float32
				if name == "sum" {
					w = []float32{float32(i) + 6}
				} else {
					w = []float32{2 * float32(i), 2, 4, 6}
				}
				if got.Name != name || fmt.Sprint(got.Data) != fmt.Sprint(w) || got.Shape[0] != 1 {
					errs <- fmt.Errorf("request %d: output %s = %v %v; want %s %v", i, got.Name, got.Shape, got.Data, name, w)
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	sizes := f.batchSizes()
	m := s.models["fake"]
	inf, ex := testutil.ToFloat64(m.met.inferences), testutil.ToFloat64(m.met.executions)
	if inf != n || ex != float64(len(sizes)) || ex >= n {
		t.Errorf("inference count %v, execution count %v, batches %v; want %d rows in fewer than %d passes", inf, ex, sizes, n, n)
	}
	t.Logf("%d requests in %d forward passes: %v", n, len(sizes), sizes)
}

// TestBackpressure bursts 200 concurrent requests at a queue of 16: the
// overflow gets fast 503s with Retry-After, and every accepted request
// succeeds.
func TestBackpressure(t *testing.T) {
	f := &fakeModel{delay: 30 * time.Millisecond}
	s, hs := fakeServer(t, f, func(m *Model) { m.MaxBatch, m.MaxQueue = 4, 16 })
	tr := &http.Transport{MaxIdleConnsPerHost: 200}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	const n = 200
	var ok, busy, other atomic.Int64
	var slowest503 atomic.Int64
	var wg sync.WaitGroup
	body := inferJSON([]float32{1, 2, 3, 4}, "double")
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			resp, err := client.Post(hs.URL+"/v2/models/fake/infer", "application/json", bytes.NewReader(body))
			if err != nil {
				other.Add(1)
				return
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			switch resp.StatusCode {
			case 200:
				var o outJSON
				if json.Unmarshal(b, &o) != nil || fmt.Sprint(o.Outputs[0].Data) != "[2 4 6 8]" {
					other.Add(1)
					return
				}
				ok.Add(1)
			case 503:
				if resp.Header.Get("Retry-After") == "" {
					other.Add(1)
				}
				busy.Add(1)
				if d := time.Since(start).Nanoseconds(); d > slowest503.Load() {
					slowest503.Store(d)
				}
			default:
				other.Add(1)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d ok, %d refused (slowest 503 in %v), %d other", ok.Load(), busy.Load(), time.Duration(slowest503.Load()), other.Load())
	if other.Load() != 0 || ok.Load() == 0 || busy.Load() == 0 || ok.Load()+busy.Load() != n {
		t.Errorf("%d ok, %d busy, %d other; want only successes and 503s with Retry-After, some of each", ok.Load(), busy.Load(), other.Load())
	}
	m := s.models["fake"]
	if got := testutil.ToFloat64(m.met.rejected); got != float64(busy.Load()) {
		t.Errorf("rejected counter = %v; want %d", got, busy.Load())
	}
	if got := m.pending.Load(); got != 0 {
		t.Errorf("pending after the burst = %d; want 0", got)
	}
}

// TestCancelledDropped queues requests whose deadline passes while the
// only instance is busy: they are dropped before running.
func TestCancelledDropped(t *testing.T) {
	f := &fakeModel{delay: 200 * time.Millisecond}
	s, hs := fakeServer(t, f, func(m *Model) { m.MaxBatch = 1 })
	go http.Post(hs.URL+"/v2/models/fake/infer", "application/json", bytes.NewReader(inferJSON([]float32{1, 2, 3, 4}))) // occupies the instance
	time.Sleep(50 * time.Millisecond)
	var wg sync.WaitGroup
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
			defer cancel()
			req, _ := http.NewRequestWithContext(ctx, "POST", hs.URL+"/v2/models/fake/infer", bytes.NewReader(inferJSON([]float32{9, 9, 9, 9})))
			if resp, err := http.DefaultClient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	time.Sleep(400 * time.Millisecond)
	if got := f.batchSizes(); len(got) != 1 {
		t.Errorf("model ran %d batches %v; want 1 (cancelled requests dropped before running)", len(got), got)
	}
	if got := testutil.ToFloat64(s.models["fake"].met.cancelled); got < 3 {
		t.Errorf("cancelled counter = %v; want at least 3", got)
	}
}

// TestBadRowIsolated checks that a request the model refuses does not
// fail the requests batched with it.
func TestBadRowIsolated(t *testing.T) {
	f := &fakeModel{delay: 10 * time.Millisecond, fail: func(x *sdk.Tensor) error {
		for _, v := range x.Float32 {
			if v < 0 {
				return fmt.Errorf("%w: negative value", sdk.ErrBadInput)
			}
		}
		return nil
	}}
	_, hs := fakeServer(t, f, func(m *Model) { m.MaxDelay = 30 * time.Millisecond })
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			x := []float32{1, 2, 3, 4}
			if i == 0 {
				x[0] = -1
			}
			codes[i], _, _ = post(t, hs.URL+"/v2/models/fake/infer", inferJSON(x), nil)
		}()
	}
	wg.Wait()
	if codes[0] != 400 {
		t.Errorf("bad request got %d; want 400", codes[0])
	}
	for i, c := range codes[1:] {
		if c != 200 {
			t.Errorf("good request %d batched with a bad one got %d; want 200", i+1, c)
		}
	}
}

// TestShutdownDrains checks Shutdown: readiness false at once, accepted
// requests finish, new ones get 503.
func TestShutdownDrains(t *testing.T) {
	f := &fakeModel{delay: 150 * time.Millisecond}
	s, hs := fakeServer(t, f, func(m *Model) { m.MaxBatch = 1 })
	var wg sync.WaitGroup
	codes := make([]int, 4)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i], _, _ = post(t, hs.URL+"/v2/models/fake/infer", inferJSON([]float32{1, 2, 3, 4}), nil)
		}()
	}
	time.Sleep(50 * time.Millisecond)
	done := make(chan error)
	go func() { done <- s.Shutdown(context.Background()) }()
	time.Sleep(10 * time.Millisecond)
	resp, err := http.Get(hs.URL + "/v2/health/ready")
	if err != nil || resp.StatusCode != 503 {
		t.Errorf("ready while draining = %v %v; want 503", resp.StatusCode, err)
	}
	if c, _, _ := post(t, hs.URL+"/v2/models/fake/infer", inferJSON([]float32{1, 2, 3, 4}), nil); c != 503 {
		t.Errorf("a new request while draining got %d; want 503", c)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown: %v", err)
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("in-flight request %d got %d during shutdown; want 200", i, c)
		}
	}
}

// TestTransportsAgree sends one input as JSON, as binary HTTP and over
// gRPC (contents and raw), and compares the answers bit for bit.
func TestTransportsAgree(t *testing.T) {
	f := &fakeModel{}
	s, hs := fakeServer(t, f, nil)
	x := []float32{0.1, -2.5, 3e-7, 1e6, 5, 6, 7, 8}
	want := map[string][]float32{}
	for _, tr := range []string{"json", "binary"} {
		var body []byte
		hdr := map[string]string{}
		if tr == "json" {
			body = inferJSON(x, "double", "sum")
		} else {
			head := []byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[2,4],"parameters":{"binary_data_size":32}}],` +
				`"outputs":[{"name":"double","parameters":{"binary_data":true}},{"name":"sum","parameters":{"binary_data":true}}]}`)
			hdr[HeaderContentLength] = strconv.Itoa(len(head))
			body = append(head, f32bytes(x)...)
		}
		code, h, b := post(t, hs.URL+"/v2/models/fake/infer", body, hdr)
		if code != 200 {
			t.Fatalf("%s: %d %s", tr, code, b)
		}
		got := decodeHTTPOutputs(t, h, b)
		if tr == "json" {
			want = got
			continue
		}
		for k, v := range want {
			if fmt.Sprint(got[k]) != fmt.Sprint(v) {
				t.Errorf("%s output %s = %v; JSON gave %v", tr, k, got[k], v)
			}
		}
	}
	if fmt.Sprint(want["double"]) != fmt.Sprint([]float32{0.2, -5, 6e-7, 2e6, 10, 12, 14, 16}) {
		t.Errorf("double = %v", want["double"])
	}

	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	g := grpc.NewServer(s.GRPCServerOptions()...)
	s.RegisterGRPC(g)
	go g.Serve(lis)
	defer g.Stop()
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	c := pb.NewGRPCInferenceServiceClient(cc)
	ctx := context.Background()
	for _, raw := range []bool{false, true} {
		in := &pb.ModelInferRequest_InferInputTensor{Name: "input", Datatype: "FP32", Shape: []int64{2, 4}}
		req := &pb.ModelInferRequest{ModelName: "fake", Inputs: []*pb.ModelInferRequest_InferInputTensor{in},
			Outputs: []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "double"}, {Name: "sum"}}}
		if raw {
			req.RawInputContents = [][]byte{f32bytes(x)}
		} else {
			in.Contents = &pb.InferTensorContents{Fp32Contents: x}
		}
		resp, err := c.ModelInfer(ctx, req)
		if err != nil {
			t.Fatalf("gRPC raw=%v: %v", raw, err)
		}
		for i, o := range resp.Outputs {
			got := bytesF32(resp.RawOutputContents[i])
			if fmt.Sprint(got) != fmt.Sprint(want[o.Name]) {
				t.Errorf("gRPC raw=%v output %s = %v; JSON gave %v", raw, o.Name, got, want[o.Name])
			}
		}
	}
	// gRPC errors carry the matching codes.
	for _, tt := range []struct {
		req  *pb.ModelInferRequest
		code codes.Code
	}{
		{&pb.ModelInferRequest{ModelName: "nope"}, codes.NotFound},
		{&pb.ModelInferRequest{ModelName: "fake", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1e6, 1e6}}}}, codes.InvalidArgument},
		{&pb.ModelInferRequest{ModelName: "fake", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 4}}}, RawInputContents: [][]byte{{1, 2}}}, codes.InvalidArgument},
		{&pb.ModelInferRequest{ModelName: "fake", Inputs: []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{1, 4}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1}}}}}, codes.InvalidArgument},
	} {
		_, err := c.ModelInfer(ctx, tt.req)
		if status.Code(err) != tt.code {
			t.Errorf("ModelInfer(%v) = %v; want code %v", tt.req, err, tt.code)
		}
	}
	md, err := c.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "fake"})
	if err != nil || len(md.Outputs) != 2 || md.Outputs[0].Name != "double" || fmt.Sprint(md.Inputs[0].Shape) != "[-1 4]" {
		t.Errorf("ModelMetadata = %v, %v", md, err)
	}
	if r, err := c.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || !r.Ready {
		t.Errorf("ServerReady = %v, %v", r, err)
	}
}

func f32bytes(x []float32) []byte {
	b := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return b
}

func bytesF32(b []byte) []float32 {
	x := make([]float32, len(b)/4)
	for i := range x {
		x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return x
}

// decodeHTTPOutputs reads a JSON or binary-extension response.
func decodeHTTPOutputs(t *testing.T, h http.Header, b []byte) map[string][]float32 {
	t.Helper()
	head, bin := b, []byte(nil)
	if v := h.Get(HeaderContentLength); v != "" {
		n, _ := strconv.Atoi(v)
		head, bin = b[:n], b[n:]
	}
	var o outJSON
	if err := json.Unmarshal(head, &o); err != nil {
		t.Fatalf("response %q: %v", head, err)
	}
	out := map[string][]float32{}
	for _, x := range o.Outputs {
		if size, ok := x.Parameters["binary_data_size"]; ok {
			out[x.Name] = bytesF32(bin[:size])
			bin = bin[size:]
		} else {
			out[x.Name] = x.Data
		}
	}
	return out
}

func TestMetadataAndHealth(t *testing.T) {
	_, hs := fakeServer(t, &fakeModel{}, nil)
	for _, tt := range []struct {
		path string
		code int
		want string
	}{
		{"/v2", 200, `"extensions":["binary_tensor_data"]`},
		{"/v2/health/live", 200, `"live":true`},
		{"/v2/health/ready", 200, `"ready":true`},
		{"/v2/models/fake/ready", 200, `"ready":true`},
		{"/v2/models/fake", 200, `"outputs":[{"name":"double","datatype":"FP32","shape":[-1,4]},{"name":"sum","datatype":"FP32","shape":[-1,1]}]`},
		{"/v2/models/fake/versions/1", 200, `"default_outputs":"sum"`},
		{"/v2/models/nope", 404, `unknown model`},
		{"/v2/nothing", 404, `no such endpoint`},
		{"/metrics", 200, `gozoo_ready_instances{model="fake"} 1`},
	} {
		resp, err := http.Get(hs.URL + tt.path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.want) {
			t.Errorf("GET %s = %d %s; want %d with %s", tt.path, resp.StatusCode, b, tt.code, tt.want)
		}
	}
}

func TestOptionErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		opt  Option
	}{
		{"body", WithMaxBodyBytes(10)},
		{"timeout", WithTimeout(0)},
		{"logger", WithLogger(nil)},
		{"health", WithHealthInterval(-1)},
		{"registry", WithRegistry(nil)},
	} {
		if _, err := New(context.Background(), []Model{{Name: "x"}}, tt.opt); err == nil || !strings.HasPrefix(err.Error(), "serve: ") {
			t.Errorf("New(%s) = %v; want a serve: error", tt.name, err)
		}
	}
	open := func(context.Context, int) (*Instance, error) { return nil, errors.New("boom") }
	if _, err := New(context.Background(), []Model{{Name: "a/b", Open: open}}); err == nil {
		t.Error("New with a name holding / succeeded")
	}
	if _, err := New(context.Background(), []Model{{Name: "a", Open: open}}); err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("New with a failing Open = %v; want its error", err)
	}
}

func FuzzDecodeREST(f *testing.F) {
	f.Add([]byte(`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}]}`), int64(-1))
	f.Add([]byte(`{"inputs":[{"name":"image","datatype":"BYTES","shape":[1],"data":["aGk="]}],"outputs":[{"name":"x","parameters":{"binary_data":true}}]}`), int64(-1))
	head := `{"inputs":[{"name":"input","datatype":"FP32","shape":[1,2],"parameters":{"binary_data_size":8}},{"name":"image","datatype":"BYTES","shape":[1],"parameters":{"binary_data_size":6}}]}`
	f.Add(append([]byte(head), 0, 0, 128, 63, 0, 0, 0, 64, 2, 0, 0, 0, 'h', 'i'), int64(len(head)))
	f.Add([]byte(`{"inputs":[{"name":"lengths","datatype":"INT64","shape":[2],"data":[[3],[4]]}]}`), int64(-1))
	f.Fuzz(func(t *testing.T, body []byte, headerLen int64) {
		r, err := decodeREST(body, headerLen, 1<<16)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("decodeREST error %v is not a 400", err)
			}
			return
		}
		for _, in := range r.inputs {
			n := sdk.NumElements(in.shape)
			if got := int64(len(in.f32) + len(in.i64) + len(in.bytes)); got != n {
				t.Fatalf("input %s shape %v holds %d elements", in.name, in.shape, got)
			}
		}
	})
}

func FuzzDecodeGRPC(f *testing.F) {
	seed := &pb.ModelInferRequest{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "input", Datatype: "FP32", Shape: []int64{1, 2}}, {Name: "image", Datatype: "BYTES", Shape: []int64{1}}},
		RawInputContents: [][]byte{{0, 0, 128, 63, 0, 0, 0, 64}, {2, 0, 0, 0, 'h', 'i'}}}
	b, _ := proto.Marshal(seed)
	f.Add(b)
	seed2 := &pb.ModelInferRequest{ModelName: "m", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "lengths", Datatype: "INT64", Shape: []int64{2}, Contents: &pb.InferTensorContents{Int64Contents: []int64{1, 2}}}}}
	b, _ = proto.Marshal(seed2)
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var req pb.ModelInferRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		r, err := decodeGRPC(&req, 1<<16)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != 400 {
				t.Fatalf("decodeGRPC error %v is not a 400", err)
			}
			return
		}
		for _, in := range r.inputs {
			if got := int64(len(in.f32) + len(in.i64) + len(in.bytes)); got != sdk.NumElements(in.shape) {
				t.Fatalf("input %s shape %v holds %d elements", in.name, in.shape, got)
			}
		}
	})
}

// TestLengths checks the INT64 lengths input of sequence models: checked
// against the rows, and carried with each request's rows into its batch.
func TestLengths(t *testing.T) {
	f := &fakeModel{delay: 20 * time.Millisecond}
	_, hs := fakeServer(t, f, func(m *Model) { m.Lengths, m.MaxDelay = true, 20*time.Millisecond })
	url := hs.URL + "/v2/models/fake/infer"
	req := func(rows [][]float32, lengths string) string {
		b, _ := json.Marshal(rows)
		return fmt.Sprintf(`{"inputs":[{"name":"input","datatype":"FP32","shape":[%d,4],"data":%s}%s]}`, len(rows), b, lengths)
	}
	for _, tt := range []struct{ name, lengths, want string }{
		{"missing", ``, `needs an INT64`},
		{"count", `,{"name":"lengths","datatype":"INT64","shape":[2],"data":[1,2]}`, "want INT64 [1]"},
		{"dtype", `,{"name":"lengths","datatype":"FP32","shape":[1],"data":[1]}`, "want INT64 [1]"},
		{"zero", `,{"name":"lengths","datatype":"INT64","shape":[1],"data":[0]}`, "want 1 to the 4 steps"},
		{"too long", `,{"name":"lengths","datatype":"INT64","shape":[1],"data":[5]}`, "want 1 to the 4 steps"},
	} {
		code, _, b := post(t, url, []byte(req([][]float32{{1, 0, 0, 0}}, tt.lengths)), nil)
		if code != 400 || !strings.Contains(string(b), tt.want) {
			t.Errorf("lengths %s = %d %s; want 400 with %q", tt.name, code, b, tt.want)
		}
	}
	var wg sync.WaitGroup
	for i := 1; i <= 4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rows := [][]float32{{float32(i), 9, 9, 9}, {float32(5 - i), 9, 9, 9}}
			lengths := fmt.Sprintf(`,{"name":"lengths","datatype":"INT64","shape":[2],"data":[%d,%d]}`, i, 5-i)
			if code, _, b := post(t, url, []byte(req(rows, lengths)), nil); code != 200 {
				t.Errorf("request %d = %d %s", i, code, b)
			}
		}()
	}
	wg.Wait()
	if f.lengthsBad != 0 || f.lengthsOK == 0 || len(f.batchSizes()) >= 4 {
		t.Errorf("batches %v: %d with lengths matching their rows, %d not; want all matching, fewer batches than requests", f.batchSizes(), f.lengthsOK, f.lengthsBad)
	}
}

// TestReadinessFollowsInstances checks that readiness is false while no
// instance's process is up, true again after it comes back, and that a
// new process id counts as a restart.
func TestReadinessFollowsInstances(t *testing.T) {
	var pid atomic.Int64
	pid.Store(100)
	f := &fakeModel{}
	s, hs := fakeServer(t, f, func(m *Model) {
		m.Open = func(context.Context, int) (*Instance, error) {
			return &Instance{Model: f, PID: func() (int, error) {
				if p := pid.Load(); p > 0 {
					return int(p), nil
				}
				return 0, errors.New("not running")
			}}, nil
		}
	}, WithHealthInterval(5*time.Millisecond))
	waitReady := func(want bool) {
		t.Helper()
		for start := time.Now(); time.Since(start) < 5*time.Second; time.Sleep(5 * time.Millisecond) {
			resp, err := http.Get(hs.URL + "/v2/models/fake/ready")
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if (resp.StatusCode == 200) == want && s.Ready() == want {
				return
			}
		}
		t.Fatalf("model readiness did not become %v", want)
	}
	waitReady(true)
	pid.Store(0) // the process is gone
	waitReady(false)
	pid.Store(101) // a new process
	waitReady(true)
	if got := testutil.ToFloat64(s.models["fake"].met.restarts); got != 1 {
		t.Errorf("restart counter = %v; want 1", got)
	}
}

func TestGRPCErrorCodes(t *testing.T) {
	for _, tt := range []struct {
		err  error
		code codes.Code
	}{
		{badRequest("x"), codes.InvalidArgument},
		{&Error{Status: http.StatusNotFound}, codes.NotFound},
		{&Error{Status: http.StatusRequestEntityTooLarge}, codes.ResourceExhausted},
		{&Error{Status: http.StatusServiceUnavailable, RetryAfter: 1}, codes.Unavailable},
		{&Error{Status: http.StatusGatewayTimeout}, codes.DeadlineExceeded},
		{&Error{Status: statusClientClosed}, codes.Canceled},
		{errors.New("other"), codes.Internal},
	} {
		if got := status.Code(grpcError(tt.err)); got != tt.code {
			t.Errorf("grpcError(%v) = %v; want %v", tt.err, got, tt.code)
		}
	}
}
