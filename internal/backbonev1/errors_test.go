package backbonev1

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/gozoo/gozoo/sdk"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// overWire sends a status through its protobuf form, as gRPC does.
func overWire(t *testing.T, err error) error {
	t.Helper()
	st, _ := status.FromError(err)
	b, merr := proto.Marshal(st.Proto())
	if merr != nil {
		t.Fatal(merr)
	}
	pb := st.Proto()
	pb.Reset()
	if err := proto.Unmarshal(b, pb); err != nil {
		t.Fatal(err)
	}
	return status.FromProto(pb).Err()
}

func TestErrorMapping(t *testing.T) {
	for code := range codeOf {
		sentinel := sdk.Sentinel(code)
		t.Run(code, func(t *testing.T) {
			if sentinel == nil || sdk.Code(sentinel) != code {
				t.Fatalf("sdk.Sentinel(%q) = %v, whose code is %q; want a sentinel of that code", code, sentinel, sdk.Code(sentinel))
			}
			in := fmt.Errorf("load resnet18: %w: try again", sentinel)
			st := ToStatus(in)
			if got := status.Code(st); got != codeOf[code] {
				t.Errorf("ToStatus(%s) code = %v; want %v", code, got, codeOf[code])
			}
			got := FromStatus(overWire(t, st))
			if !errors.Is(got, sentinel) {
				t.Errorf("FromStatus(ToStatus(%v)) = %v; does not match %v", in, got, sentinel)
			}
			if got.Error() != in.Error() {
				t.Errorf("message = %q; want %q", got.Error(), in.Error())
			}
			for other := range codeOf {
				other := sdk.Sentinel(other)
				// A sentinel that is a kind of another (ErrNoMatch of
				// ErrBadInput) matches that one too, as it does locally.
				if other != sentinel && errors.Is(got, other) && !errors.Is(sentinel, other) {
					t.Errorf("%v also matches %v", got, other)
				}
			}
		})
	}
}

func TestTypedErrors(t *testing.T) {
	le := &sdk.LayerError{Name: "layer9", Suggestions: []string{"layer1", "layer4"}}
	got := FromStatus(overWire(t, ToStatus(fmt.Errorf("extract: %w", le))))
	var gotLE *sdk.LayerError
	if !errors.As(got, &gotLE) || !reflect.DeepEqual(gotLE, le) {
		t.Errorf("LayerError round trip = %#v; want %#v", gotLE, le)
	}
	if !errors.Is(got, sdk.ErrUnknownLayer) || !strings.Contains(got.Error(), `did you mean "layer1", "layer4"`) {
		t.Errorf("LayerError round trip = %v", got)
	}

	se := &sdk.ShapeError{What: "input", Want: []int64{-1, 3, 224, 224}, Got: []int64{3, 224, 224}, Hint: "add a batch dimension", DType: sdk.Int64, WantDType: sdk.Float32}
	got = FromStatus(overWire(t, ToStatus(se)))
	var gotSE *sdk.ShapeError
	if !errors.As(got, &gotSE) || !reflect.DeepEqual(gotSE, se) || !errors.Is(got, sdk.ErrBadInput) {
		t.Errorf("ShapeError round trip = %#v; want %#v", gotSE, se)
	}
}

func TestContextAndPlainErrors(t *testing.T) {
	tests := []struct {
		in   error
		code codes.Code
		is   error
	}{
		{context.Canceled, codes.Canceled, context.Canceled},
		{fmt.Errorf("run: %w", context.DeadlineExceeded), codes.DeadlineExceeded, context.DeadlineExceeded},
		{errors.New("disk full"), codes.Unknown, nil},
	}
	for _, tt := range tests {
		st := ToStatus(tt.in)
		if status.Code(st) != tt.code {
			t.Errorf("ToStatus(%v) code = %v; want %v", tt.in, status.Code(st), tt.code)
		}
		got := FromStatus(st)
		if tt.is != nil && !errors.Is(got, tt.is) {
			t.Errorf("FromStatus(ToStatus(%v)) = %v; want it to match %v", tt.in, got, tt.is)
		}
		if got.Error() != tt.in.Error() {
			t.Errorf("message = %q; want %q", got.Error(), tt.in.Error())
		}
		if sdk.Code(got) != "" {
			t.Errorf("FromStatus(%v) matches sentinel %s", tt.in, sdk.Code(got))
		}
	}
	if ToStatus(nil) != nil || FromStatus(nil) != nil {
		t.Errorf("nil errors must stay nil")
	}
}

// TestJoinedSentinels checks that an error wrapping two sentinels crosses
// the wire under the code sdk.Code picks, whichever order it wraps them
// in, and that a code this host does not know is kept as a plain status.
func TestJoinedSentinels(t *testing.T) {
	for _, in := range []error{
		errors.Join(sdk.ErrBadInput, sdk.ErrClosed),
		fmt.Errorf("extract: %w: %w", sdk.ErrClosed, sdk.ErrBadInput),
	} {
		st := ToStatus(in)
		if status.Code(st) != codes.FailedPrecondition {
			t.Errorf("ToStatus(%v) code = %v; want %v (CLOSED)", in, status.Code(st), codes.FailedPrecondition)
		}
		got := FromStatus(overWire(t, st))
		if !errors.Is(got, sdk.ErrClosed) || errors.Is(got, sdk.ErrBadInput) {
			t.Errorf("FromStatus(ToStatus(%v)) = %v; want it to match ErrClosed only", in, got)
		}
	}
	st, err := status.New(codes.Aborted, "from a newer plugin").WithDetails(&errdetails.ErrorInfo{Reason: "NEWER_CODE", Domain: ErrorDomain})
	if err != nil {
		t.Fatal(err)
	}
	got := FromStatus(overWire(t, st.Err()))
	var re *RemoteError
	if sdk.Code(got) != "" || !errors.As(got, &re) || re.Code != codes.Aborted || got.Error() != "from a newer plugin" {
		t.Errorf("FromStatus(unknown reason) = %#v (sentinel code %q); want a RemoteError with code Aborted and no sentinel", got, sdk.Code(got))
	}
}
