// Command service is a Go service that serves a PyTorch model's features
// beside its own routes: it mounts sdk/serve's Open Inference Protocol
// handler under /v2/ and /metrics in its own mux, answers its own /hello,
// and on SIGTERM drains (readiness false, accepted requests finish) before
// it stops its plugin processes.
//
//	make build && go run ./examples/service -plugins bin/plugins
//	curl -s localhost:8080/v2/models/resnet18
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gozoo/gozoo/sdk"
	"github.com/gozoo/gozoo/sdk/host"
	"github.com/gozoo/gozoo/sdk/serve"
	"github.com/gozoo/gozoo/zoo/imageproc"
)

func main() {
	plugins := flag.String("plugins", "bin/plugins", "folder holding gozoo-backbone-resnet")
	weights := flag.String("weights", "", "resnet18 state_dict (.pth); default: seeded random init")
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", *addr)
	if err == nil {
		err = run(ctx, os.Stderr, l, *plugins, *weights)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "service:", err)
		os.Exit(1)
	}
}

// run serves on l until ctx ends, then drains and stops.
func run(ctx context.Context, w io.Writer, l net.Listener, pluginDir, weights string) error {
	tf := imageproc.ImageNet()
	s, err := serve.New(ctx, []serve.Model{{
		Name: "resnet18",
		Open: serve.Plugin("resnet", sdk.LoadRequest{Arch: "resnet18", WeightsPath: weights, Threads: 2},
			host.WithPluginPath(pluginDir)),
		Transform:      &tf,
		Outputs:        []string{"layer3", "layer4", "avgpool", "fc"},
		DefaultOutputs: []string{"avgpool"},
		MaxBatch:       8,
		MaxDelay:       5 * time.Millisecond,
		MaxQueue:       32,
	}})
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, "hello from a Go service that serves resnet18 features")
	})
	inference := s.Handler()
	mux.Handle("/v2/", inference)
	mux.Handle("GET /metrics", s.Metrics())
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(l) }()
	fmt.Fprintf(w, "listening on %s: /hello, /v2/models/resnet18, /metrics\n", l.Addr())
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	// Drain: readiness turns false at once, accepted requests finish,
	// then the plugin processes stop.
	dctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	serr := s.Shutdown(dctx)
	herr := hs.Shutdown(dctx)
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	fmt.Fprintln(w, "stopped")
	return errors.Join(err, serr, herr)
}
