package plugin_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/internal/backbonev1"
	"github.com/gozoo/gozoo/internal/toyplugin"
	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/plugin"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"
)

// plainBackbone hides the toy model's optional interfaces, like a plugin
// whose models cannot train.
type plainBackbone struct{ sdk.Backbone }

type plainModel struct{ sdk.Model }

func (b plainBackbone) Load(ctx context.Context, req *sdk.LoadRequest) (sdk.Model, error) {
	m, err := b.Backbone.Load(ctx, req)
	if err != nil {
		return nil, err
	}
	return plainModel{m}, nil
}

// serve runs impl on an in-memory gRPC server and returns a raw client.
func serve(t *testing.T, impl sdk.Backbone, opts ...plugin.Option) backbonev1.BackboneClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	s := grpc.NewServer(plugin.ServerOptions()...)
	if err := plugin.Register(s, impl, opts...); err != nil {
		t.Fatal(err)
	}
	go s.Serve(lis)
	t.Cleanup(s.Stop)
	cc, err := grpc.NewClient("passthrough:///bufnet",
		grpc.WithContextDialer(func(context.Context, string) (net.Conn, error) { return lis.Dial() }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return backbonev1.NewBackboneClient(cc)
}

func TestCapabilityGated(t *testing.T) {
	ctx := context.Background()
	c := serve(t, plainBackbone{toyplugin.New()}, plugin.WithName("resnet"))
	h, err := c.Load(ctx, &backbonev1.LoadRequest{Arch: "toy"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Export(ctx, &backbonev1.ExportRequest{Handle: h.Handle, Path: "/tmp/x.onnx"})
	checkUnsupported(t, "Export", err, "export is not a capability of plugin resnet")

	stream, err := c.Train(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := stream.Send(&backbonev1.TrainRequest{Msg: &backbonev1.TrainRequest_Config{Config: &backbonev1.TrainConfig{Handle: h.Handle}}}); err != nil {
		t.Fatal(err)
	}
	_, err = stream.Recv()
	checkUnsupported(t, "Train", err, "train is not a capability of plugin resnet")
}

func checkUnsupported(t *testing.T, what string, err error, msg string) {
	t.Helper()
	if status.Code(err) != codes.Unimplemented {
		t.Errorf("%s() code = %v; want Unimplemented", what, status.Code(err))
	}
	err = backbonev1.FromStatus(err)
	if !errors.Is(err, sdk.ErrUnsupported) || !strings.Contains(err.Error(), msg) {
		t.Errorf("%s() = %v; want ErrUnsupported saying %q", what, err, msg)
	}
}

func TestUnknownHandle(t *testing.T) {
	ctx := context.Background()
	c := serve(t, toyplugin.New())
	h, err := c.Load(ctx, &backbonev1.LoadRequest{Arch: "toy"})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // Close is idempotent
		if _, err := c.Close(ctx, &backbonev1.CloseRequest{Handle: h.Handle}); err != nil {
			t.Fatalf("Close() #%d = %v", i+1, err)
		}
	}
	tests := []struct {
		name string
		call func() error
	}{
		{"Layers", func() error { _, err := c.Layers(ctx, &backbonev1.LayersRequest{Handle: h.Handle}); return err }},
		{"Params", func() error { _, err := c.Params(ctx, &backbonev1.ParamsRequest{Handle: "nope"}); return err }},
		{"SetTrainable", func() error {
			_, err := c.SetTrainable(ctx, &backbonev1.SetTrainableRequest{Handle: "nope", Patterns: []string{"*"}})
			return err
		}},
		{"Extract", func() error {
			s, err := c.Extract(ctx)
			if err != nil {
				return err
			}
			chunks, _ := backbonev1.Chunks("", sdk.Zeros(1, 4), 0)
			s.Send(&backbonev1.ExtractRequest{Handle: h.Handle, Input: chunks[0]})
			s.CloseSend()
			_, err = s.Recv()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := backbonev1.FromStatus(tt.call())
			if !errors.Is(err, sdk.ErrClosed) || !strings.Contains(err.Error(), "load the model again") {
				t.Errorf("%s(closed handle) = %v; want ErrClosed with a hint", tt.name, err)
			}
		})
	}
}

func TestExtractChunked(t *testing.T) {
	ctx := context.Background()
	c := serve(t, toyplugin.New())
	h, err := c.Load(ctx, &backbonev1.LoadRequest{Arch: "toy", Options: map[string]string{"dim": "1024"}})
	if err != nil {
		t.Fatal(err)
	}
	x := sdk.Zeros(2048, 1024) // 8 MiB: four chunks each way
	for i := range x.Float32 {
		x.Float32[i] = float32(i)
	}
	chunks, err := backbonev1.Chunks("", x, 0)
	if err != nil || len(chunks) != 4 {
		t.Fatalf("Chunks(8 MiB) = %d chunks, %v; want 4", len(chunks), err)
	}
	s, err := c.Extract(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i, ch := range chunks {
		m := &backbonev1.ExtractRequest{Input: ch}
		if i == 0 {
			m.Handle, m.Layers = h.Handle, []string{"lin"}
		}
		if err := s.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	s.CloseSend()
	var outs backbonev1.Outputs
	n := 0
	for {
		r, err := s.Recv()
		if err != nil {
			break
		}
		n++
		if err := outs.Add(r.Output); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := outs.Tensors()
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("server sent %d chunks; want 4", n)
	}
	for i, v := range x.Float32 {
		if ts["lin"].Float32[i] != 2*v {
			t.Fatalf("lin[%d] = %v; want %v", i, ts["lin"].Float32[i], 2*v)
		}
	}
}

func TestOptions(t *testing.T) {
	if err := plugin.Register(grpc.NewServer(), toyplugin.New(), plugin.WithName("")); err == nil {
		t.Errorf("WithName(\"\") = nil error")
	}
	if err := plugin.Register(grpc.NewServer(), toyplugin.New(), plugin.WithLogLevel("loud")); err == nil {
		t.Errorf("WithLogLevel(loud) = nil error")
	}
	if err := plugin.Register(grpc.NewServer(), nil); err == nil {
		t.Errorf("Register(nil) = nil error")
	}
}
