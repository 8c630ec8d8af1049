package backbonev1

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// ErrorDomain is the errdetails.ErrorInfo domain of gozoo errors; the
// ErrorInfo reason is the sdk sentinel's wire code (sdk.Code).
const ErrorDomain = "backbone.gozoo"

// Metadata keys of the ErrorInfo that carry typed error details.
const (
	metaLayer       = "layer"
	metaSuggestions = "suggestions"
	metaWhat        = "what"
	metaWant        = "want"
	metaGot         = "got"
	metaHint        = "hint"
	metaDType       = "dtype"
	metaWantDType   = "want_dtype"
)

// codeOf maps a sentinel wire code to the gRPC code it travels with; a
// code missing here travels as Unknown, still with its ErrorInfo.
// Unavailable is left to the transport: the host reads it as "the plugin
// went away".
var codeOf = map[string]codes.Code{
	"UNKNOWN_ARCH":       codes.NotFound,
	"UNKNOWN_LAYER":      codes.NotFound,
	"BAD_INPUT":          codes.InvalidArgument,
	"BAD_OPTION":         codes.InvalidArgument,
	"WEIGHTS":            codes.FailedPrecondition,
	"UNSUPPORTED":        codes.Unimplemented,
	"DEVICE_UNAVAILABLE": codes.FailedPrecondition,
	"CLOSED":             codes.FailedPrecondition,
	"PLUGIN_CRASHED":     codes.Internal,
	"NO_MATCH":           codes.InvalidArgument,
}

func badFormat(f string) error {
	return fmt.Errorf("%w: weights format %q: use pth, safetensors, onnx or none", sdk.ErrBadOption, f)
}

// ToStatus converts an error from an sdk implementation into a gRPC status
// error: the code fits the sdk sentinel err wraps, an ErrorInfo carries the
// sentinel's wire code, and *sdk.LayerError / *sdk.ShapeError details ride
// in its metadata. Context errors become Canceled / DeadlineExceeded. A nil
// err stays nil; an err that is already a status passes through.
func ToStatus(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	code := codes.Unknown
	switch {
	case errors.Is(err, context.Canceled):
		code = codes.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		code = codes.DeadlineExceeded
	}
	wire := sdk.Code(err)
	if wire == "" {
		return status.Error(code, err.Error())
	}
	if c, ok := codeOf[wire]; ok && code == codes.Unknown {
		code = c
	}
	info := &errdetails.ErrorInfo{Reason: wire, Domain: ErrorDomain}
	var le *sdk.LayerError
	if errors.As(err, &le) {
		info.Metadata = map[string]string{metaLayer: le.Name, metaSuggestions: strings.Join(le.Suggestions, ",")}
	}
	var se *sdk.ShapeError
	if errors.As(err, &se) {
		info.Metadata = map[string]string{metaWhat: se.What, metaWant: joinInts(se.Want), metaGot: joinInts(se.Got), metaHint: se.Hint}
		if se.DType != 0 {
			info.Metadata[metaDType] = se.DType.String()
		}
		if se.WantDType != 0 {
			info.Metadata[metaWantDType] = se.WantDType.String()
		}
	}
	st, derr := status.New(code, err.Error()).WithDetails(info)
	if derr != nil {
		return status.Error(code, err.Error())
	}
	return st.Err()
}

// RemoteError is an error a plugin returned, rebuilt on the host. Error
// returns the plugin's message unchanged; errors.Is matches the sdk
// sentinel it carried, and errors.As finds a rebuilt *sdk.LayerError or
// *sdk.ShapeError.
type RemoteError struct {
	Msg  string     // the plugin's error message
	Code codes.Code // the gRPC status code it travelled with
	errs []error
}

func (e *RemoteError) Error() string { return e.Msg }

// Unwrap returns the sentinel and typed errors the plugin's error matched.
func (e *RemoteError) Unwrap() []error { return e.errs }

// FromStatus turns a gRPC status error from a plugin back into an error that
// matches the sdk sentinel it carries (see ToStatus). Canceled and
// DeadlineExceeded statuses match context.Canceled and
// context.DeadlineExceeded. Errors that are not statuses are returned as
// they are; statuses without a gozoo ErrorInfo keep their message and code.
func FromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	re := &RemoteError{Msg: st.Message(), Code: st.Code()}
	switch st.Code() {
	case codes.Canceled:
		re.errs = append(re.errs, context.Canceled)
	case codes.DeadlineExceeded:
		re.errs = append(re.errs, context.DeadlineExceeded)
	}
	for _, d := range st.Details() {
		info, ok := d.(*errdetails.ErrorInfo)
		if !ok || info.GetDomain() != ErrorDomain {
			continue
		}
		if s := sdk.Sentinel(info.GetReason()); s != nil {
			re.errs = append(re.errs, s)
		}
		md := info.GetMetadata()
		if name, ok := md[metaLayer]; ok {
			le := &sdk.LayerError{Name: name}
			if s := md[metaSuggestions]; s != "" {
				le.Suggestions = strings.Split(s, ",")
			}
			re.errs = append(re.errs, le)
		}
		if what, ok := md[metaWhat]; ok {
			re.errs = append(re.errs, &sdk.ShapeError{What: what, Want: splitInts(md[metaWant]), Got: splitInts(md[metaGot]), Hint: md[metaHint],
				DType: dtypeNamed(md[metaDType]), WantDType: dtypeNamed(md[metaWantDType])})
		}
	}
	if len(re.errs) == 0 && st.Code() != codes.Canceled && st.Code() != codes.DeadlineExceeded {
		// Keep the status reachable for callers that look at codes.
		re.errs = append(re.errs, err)
		if re.Msg == "" {
			re.Msg = st.Code().String()
		}
	}
	return re
}

func joinInts(xs []int64) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.FormatInt(x, 10)
	}
	return strings.Join(s, ",")
}

func splitInts(s string) []int64 {
	if s == "" {
		return nil
	}
	var out []int64
	for _, f := range strings.Split(s, ",") {
		x, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			return nil
		}
		out = append(out, x)
	}
	return out
}

// dtypeNamed reads a dtype name as DType.String writes it; 0 for another.
func dtypeNamed(s string) sdk.DType {
	for _, d := range []sdk.DType{sdk.Float32, sdk.Int64} {
		if d.String() == s {
			return d
		}
	}
	return 0
}
