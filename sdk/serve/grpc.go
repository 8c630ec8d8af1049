package serve

import (
	"context"
	"encoding/binary"
	"errors"
	"math"
	"net/http"

	pb "github.com/gozoo/gozoo/internal/inferencev2"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// grpcService is inference.GRPCInferenceService over a Server.
type grpcService struct {
	pb.UnimplementedGRPCInferenceServiceServer
	s *Server
}

func registerGRPC(g grpc.ServiceRegistrar, s *Server) {
	pb.RegisterGRPCInferenceServiceServer(g, &grpcService{s: s})
}

// grpcError maps an Error to a gRPC status.
func grpcError(err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return status.Error(codes.Internal, err.Error())
	}
	code := codes.Internal
	switch e.Status {
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	case http.StatusNotFound:
		code = codes.NotFound
	case http.StatusRequestEntityTooLarge:
		code = codes.ResourceExhausted
	case http.StatusServiceUnavailable:
		code = codes.Unavailable
	case http.StatusGatewayTimeout:
		code = codes.DeadlineExceeded
	case statusClientClosed:
		code = codes.Canceled
	}
	return status.Error(code, e.Msg)
}

func (g *grpcService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (g *grpcService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: g.s.Ready()}, nil
}

func (g *grpcService) ModelReady(_ context.Context, r *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	m, err := g.s.lookup(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	return &pb.ModelReadyResponse{Ready: g.s.ModelReady(m.cfg.Name)}, nil
}

func (g *grpcService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{Name: "gozoo", Version: Version, Extensions: extensions}, nil
}

func (g *grpcService) ModelMetadata(_ context.Context, r *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	m, err := g.s.lookup(r.GetName(), r.GetVersion())
	if err != nil {
		return nil, grpcError(err)
	}
	md := m.metadata()
	out := &pb.ModelMetadataResponse{Name: md.Name, Versions: md.Versions, Platform: md.Platform}
	for _, t := range md.Inputs {
		out.Inputs = append(out.Inputs, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	for _, t := range md.Outputs {
		out.Outputs = append(out.Outputs, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
	}
	return out, nil
}

func (g *grpcService) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	if _, err := g.s.lookup(r.GetModelName(), r.GetModelVersion()); err != nil {
		return nil, grpcError(err)
	}
	req, err := decodeGRPC(r, g.s.maxBody)
	if err != nil {
		return nil, grpcError(err)
	}
	resp, err := g.s.infer(ctx, r.GetModelName(), r.GetModelVersion(), req)
	if err != nil {
		return nil, grpcError(err)
	}
	out := &pb.ModelInferResponse{ModelName: resp.model, ModelVersion: resp.version, Id: resp.id}
	for _, o := range resp.outputs {
		out.Outputs = append(out.Outputs, &pb.ModelInferResponse_InferOutputTensor{Name: o.name, Datatype: "FP32", Shape: o.t.Shape})
		raw := make([]byte, 4*len(o.t.Float32))
		for k, v := range o.t.Float32 {
			binary.LittleEndian.PutUint32(raw[4*k:], math.Float32bits(v))
		}
		out.RawOutputContents = append(out.RawOutputContents, raw)
	}
	return out, nil
}

// decodeGRPC converts a ModelInferRequest, checking every shape against
// the data before allocating.
func decodeGRPC(r *pb.ModelInferRequest, maxBody int64) (*request, error) {
	req := &request{id: r.GetId(), binary: map[string]bool{}}
	raw := r.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(r.GetInputs()) {
		return nil, badRequest("raw_input_contents has %d entries for %d inputs: give one per input, in order", len(raw), len(r.GetInputs()))
	}
	if len(r.GetInputs()) == 0 {
		return nil, badRequest("request has no inputs")
	}
	for i, in := range r.GetInputs() {
		if in.GetName() == "" {
			return nil, badRequest("input %d has no name", i)
		}
		size, err := elemSize(in.GetDatatype())
		if err != nil {
			return nil, err
		}
		n, err := checkShape(in.GetName(), in.GetShape(), maxBody)
		if err != nil {
			return nil, err
		}
		t := &tensor{name: in.GetName(), dtype: in.GetDatatype(), shape: in.GetShape()}
		if len(raw) > 0 {
			if in.GetContents() != nil && proto.Size(in.GetContents()) > 0 {
				return nil, badRequest("input %q has both contents and raw_input_contents: send one", t.name)
			}
			if err := t.fromRaw(raw[i], n, size); err != nil {
				return nil, err
			}
		} else {
			c := in.GetContents()
			var got int
			switch t.dtype {
			case "FP32":
				t.f32, got = c.GetFp32Contents(), len(c.GetFp32Contents())
			case "INT64":
				t.i64, got = c.GetInt64Contents(), len(c.GetInt64Contents())
			case "BYTES":
				t.bytes, got = c.GetBytesContents(), len(c.GetBytesContents())
			}
			if int64(got) != n {
				return nil, badRequest("input %q: shape %v needs %d %s elements in contents; got %d", t.name, t.shape, n, t.dtype, got)
			}
		}
		req.inputs = append(req.inputs, t)
	}
	for _, o := range r.GetOutputs() {
		req.outputs = append(req.outputs, o.GetName())
	}
	return req, nil
}
