package serve

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
)

// HeaderContentLength is the header of Triton's binary-data extension:
// the length of the JSON part of a body that binary tensor data follows.
const HeaderContentLength = "Inference-Header-Content-Length"

// Version is the server version reported by the metadata endpoints.
const Version = "1"

// extensions are the protocol extensions the server implements.
var extensions = []string{"binary_tensor_data"}

// Handler returns the REST API (KServe v2):
//
//	GET  /v2                                  server metadata
//	GET  /v2/health/live                      200 while the process runs
//	GET  /v2/health/ready                     200 when every model can answer
//	GET  /v2/models/{model}[/versions/{v}]    model metadata: inputs, outputs, shapes
//	GET  /v2/models/{model}[/versions/{v}]/ready
//	POST /v2/models/{model}[/versions/{v}]/infer
//	GET  /metrics                             Prometheus metrics
//
// Mount it at the root of a mux, or under a prefix with http.StripPrefix.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2", s.serverMetadata)
	mux.HandleFunc("GET /v2/health/live", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]bool{"live": true})
	})
	mux.HandleFunc("GET /v2/health/ready", func(w http.ResponseWriter, _ *http.Request) {
		ready := s.Ready()
		writeJSON(w, readyStatus(ready), map[string]bool{"ready": ready})
	})
	for _, prefix := range []string{"/v2/models/{model}", "/v2/models/{model}/versions/{version}"} {
		mux.HandleFunc("GET "+prefix, s.modelMetadata)
		mux.HandleFunc("GET "+prefix+"/ready", s.modelReady)
		mux.HandleFunc("POST "+prefix+"/infer", s.inferHTTP)
	}
	mux.Handle("GET /metrics", s.Metrics())
	mux.HandleFunc("/v2/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, &Error{Status: http.StatusNotFound, Msg: "no such endpoint " + r.Method + " " + r.URL.Path + ": see GET /v2 and /v2/models/{model}"})
	})
	return mux
}

func readyStatus(ready bool) int {
	if ready {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

func (s *Server) serverMetadata(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{"name": "gozoo", "version": Version, "extensions": extensions})
}

func (s *Server) modelReady(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookup(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		writeError(w, err)
		return
	}
	ready := s.ModelReady(m.cfg.Name)
	writeJSON(w, readyStatus(ready), map[string]any{"name": m.cfg.Name, "ready": ready})
}

// tensorMeta is one input or output in model metadata.
type tensorMeta struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// modelMeta is the model metadata answer.
type modelMeta struct {
	Name     string       `json:"name"`
	Versions []string     `json:"versions"`
	Platform string       `json:"platform"`
	Inputs   []tensorMeta `json:"inputs"`
	Outputs  []tensorMeta `json:"outputs"`
	// Parameters carry what the protocol has no field for: the default
	// outputs and the batching limits.
	Parameters map[string]any `json:"parameters,omitempty"`
}

func (m *model) metadata() modelMeta {
	md := modelMeta{Name: m.cfg.Name, Versions: []string{m.cfg.Version}, Platform: "gozoo"}
	dt := "FP32"
	if m.dtype == sdk.Int64 {
		dt = "INT64"
	}
	md.Inputs = append(md.Inputs, tensorMeta{Name: InputName, Datatype: dt, Shape: append([]int64{-1}, m.rowShape...)})
	if m.cfg.Transform != nil {
		md.Inputs = append(md.Inputs, tensorMeta{Name: ImageInputName, Datatype: "BYTES", Shape: []int64{-1}})
	}
	if m.cfg.Lengths {
		md.Inputs = append(md.Inputs, tensorMeta{Name: LengthsInputName, Datatype: "INT64", Shape: []int64{-1}})
	}
	for _, o := range m.outputs {
		md.Outputs = append(md.Outputs, tensorMeta{Name: o.name, Datatype: "FP32", Shape: o.shape})
	}
	md.Parameters = map[string]any{
		"default_outputs": strings.Join(m.defaults, ","),
		"max_batch_size":  m.cfg.MaxBatch,
		"instances":       len(m.insts),
	}
	return md
}

func (s *Server) modelMetadata(w http.ResponseWriter, r *http.Request) {
	m, err := s.lookup(r.PathValue("model"), r.PathValue("version"))
	if err != nil {
		writeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, m.metadata())
}

func (s *Server) inferHTTP(w http.ResponseWriter, r *http.Request) {
	name, version := r.PathValue("model"), r.PathValue("version")
	if _, err := s.lookup(name, version); err != nil {
		writeError(w, err)
		return
	}
	if r.ContentLength > s.maxBody {
		writeError(w, tooLarge(s.maxBody))
		return
	}
	headerLen := int64(-1)
	if h := r.Header.Get(HeaderContentLength); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 0 {
			writeError(w, badRequest("%s %q: want a non-negative byte count", HeaderContentLength, h))
			return
		}
		headerLen = n
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.maxBody))
	if err != nil {
		var mb *http.MaxBytesError
		if errors.As(err, &mb) {
			writeError(w, tooLarge(s.maxBody))
			return
		}
		writeError(w, badRequest("read request body: %v", err))
		return
	}
	req, err := decodeREST(body, headerLen, s.maxBody)
	if err != nil {
		writeError(w, err)
		return
	}
	resp, err := s.infer(r.Context(), name, version, req)
	if s.draining.Load() {
		// Let keep-alive clients reconnect elsewhere (another replica)
		// instead of finding this connection closed under them.
		w.Header().Set("Connection", "close")
	}
	if err != nil {
		writeError(w, err)
		return
	}
	out, hl := encodeREST(req, resp)
	if hl >= 0 {
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set(HeaderContentLength, strconv.Itoa(hl))
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(out)))
	w.WriteHeader(http.StatusOK)
	w.Write(out)
}

func tooLarge(limit int64) *Error {
	return &Error{Status: http.StatusRequestEntityTooLarge, Msg: "request body over the " + strconv.FormatInt(limit, 10) + "-byte limit: send fewer rows per request"}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

// writeError answers with the protocol's {"error": "..."} body.
func writeError(w http.ResponseWriter, err error) {
	var e *Error
	if !errors.As(err, &e) {
		e = &Error{Status: http.StatusInternalServerError, Msg: err.Error()}
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(e.RetryAfter))
	}
	writeJSON(w, e.Status, map[string]string{"error": e.Msg})
}
