package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/serve"
	"github.com/gozoo/gozoo/zoo/imageproc"
	"google.golang.org/grpc"
)

// rowMean is a tiny in-process sdk.Model for the examples: layer "mean"
// is each row's mean as [N, 1].
type rowMean struct{}

func (rowMean) Layers(context.Context, *sdk.LayersRequest) ([]sdk.Layer, error) {
	return []sdk.Layer{{Name: "mean", Kind: "Mean", Shape: []int64{-1, 1}}}, nil
}

func (rowMean) Extract(_ context.Context, req *sdk.ExtractRequest) (*sdk.ExtractResponse, error) {
	n := req.Input.Shape[0]
	per := int64(req.Input.Len()) / n
	out := sdk.Zeros(n, 1)
	for i := int64(0); i < n; i++ {
		for _, v := range req.Input.Float32[i*per : (i+1)*per] {
			out.Float32[i] += v / float32(per)
		}
	}
	return &sdk.ExtractResponse{Outputs: map[string]*sdk.Tensor{"mean": out}}, nil
}

func (rowMean) Params(context.Context) ([]sdk.Param, error) { return nil, nil }
func (rowMean) SetTrainable(context.Context, *sdk.SetTrainableRequest) (*sdk.SetTrainableResponse, error) {
	return &sdk.SetTrainableResponse{}, nil
}
func (rowMean) Close() error { return nil }

// A Server is an http.Handler: mount it beside a service's own routes.
func ExampleServer_Handler() {
	ctx := context.Background()
	s, err := serve.New(ctx, []serve.Model{{
		Name:       "mean",
		InputShape: []int64{4},
		Open: func(context.Context, int) (*serve.Instance, error) {
			return &serve.Instance{Model: rowMean{}}, nil
		},
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "hello") })
	mux.Handle("/v2/", s.Handler())
	hs := httptest.NewServer(mux)
	defer hs.Close()

	body := `{"inputs":[{"name":"input","datatype":"FP32","shape":[2,4],"data":[1,2,3,4,5,6,7,8]}]}`
	resp, err := http.Post(hs.URL+"/v2/models/mean/infer", "application/json", strings.NewReader(body))
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.StatusCode, string(out))
	// Output:
	// 200 {"model_name":"mean","model_version":"1","outputs":[{"name":"mean","datatype":"FP32","shape":[2,1],"data":[2.5,6.5]}]}
}

// Malformed requests get a 4xx answer that says what to fix.
func ExampleServer_Handler_errors() {
	s, err := serve.New(context.Background(), []serve.Model{{
		Name: "mean", InputShape: []int64{4},
		Open: func(context.Context, int) (*serve.Instance, error) { return &serve.Instance{Model: rowMean{}}, nil },
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	hs := httptest.NewServer(s.Handler())
	defer hs.Close()
	for _, body := range []string{
		`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,3],"data":[1,2,3]}]}`,
		`{"inputs":[{"name":"input","datatype":"FP32","shape":[1000000,1000000],"data":[1]}]}`,
		`{"inputs":[{"name":"input","datatype":"FP32","shape":[1,4],"data":[1,2,3,4]}],"outputs":[{"name":"maen"}]}`,
	} {
		resp, err := http.Post(hs.URL+"/v2/models/mean/infer", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			log.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		fmt.Println(resp.StatusCode, string(out))
	}
	// Output:
	// 400 {"error":"input \"input\" has shape [1, 3]; model mean wants [N, 4] with at least one row"}
	// 400 {"error":"input \"input\" has shape [1000000, 1000000], more than the 67108864 elements a request may hold"}
	// 400 {"error":"model mean has no output \"maen\"; did you mean mean? (GET /v2/models/mean lists the outputs)"}
}

// RegisterGRPC serves the same models over inference.GRPCInferenceService.
func ExampleServer_RegisterGRPC() {
	s, err := serve.New(context.Background(), []serve.Model{{
		Name: "mean", InputShape: []int64{4},
		Open: func(context.Context, int) (*serve.Instance, error) { return &serve.Instance{Model: rowMean{}}, nil },
	}})
	if err != nil {
		log.Fatal(err)
	}
	g := grpc.NewServer(s.GRPCServerOptions()...)
	s.RegisterGRPC(g)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	go g.Serve(l)
	// ... on SIGTERM:
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	fmt.Println(s.Shutdown(ctx)) // drain, then close every instance
	g.GracefulStop()
	fmt.Println(s.Ready())
	// Output:
	// <nil>
	// false
}

// Plugin opens each instance in a plugin process of its own; Info
// describes what the server exposes.
func ExamplePlugin() {
	tf := imageproc.ImageNet()
	s, err := serve.New(context.Background(), []serve.Model{{
		Name:      "resnet18",
		Open:      serve.Plugin("resnet", sdk.LoadRequest{Arch: "resnet18"}, host.WithPluginPath("bin/plugins")),
		Transform: &tf,
		Outputs:   []string{"layer4", "avgpool"},
		Instances: 2, Threads: 4,
	}})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	info, _ := s.Info("resnet18")
	for _, o := range info.Outputs {
		fmt.Println(o.Name, o.Shape)
	}
}
