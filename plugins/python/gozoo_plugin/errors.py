"""gozoo errors on the plugin wire.

A GozooError carries one of the sdk sentinels' wire codes (sdk.Sentinels in
Go). abort() sends it as a gRPC status whose google.rpc.Status details hold
an ErrorInfo with that code, so errors.Is works on the Go host. Plugin code
raises the subclass named after the sentinel:

    UnknownArch        sdk.ErrUnknownArch
    UnknownLayer       sdk.ErrUnknownLayer
    BadInput           sdk.ErrBadInput
    BadOption          sdk.ErrBadOption
    Weights            sdk.ErrWeights
    Unsupported        sdk.ErrUnsupported
    DeviceUnavailable  sdk.ErrDeviceUnavailable
    Closed             sdk.ErrClosed
    NoMatch            sdk.ErrNoMatch (which is also sdk.ErrBadInput)

Any other exception reaches the host as an error of no sentinel, carrying
its type and message.
"""

import os
import traceback

import grpc

from .pb import rpc_status_pb2

DOMAIN = "backbone.gozoo"

# Wire code -> gRPC status code, as internal/backbonev1/errors.go maps them.
_CODES = {
    "UNKNOWN_ARCH": grpc.StatusCode.NOT_FOUND,
    "UNKNOWN_LAYER": grpc.StatusCode.NOT_FOUND,
    "BAD_INPUT": grpc.StatusCode.INVALID_ARGUMENT,
    "BAD_OPTION": grpc.StatusCode.INVALID_ARGUMENT,
    "WEIGHTS": grpc.StatusCode.FAILED_PRECONDITION,
    "UNSUPPORTED": grpc.StatusCode.UNIMPLEMENTED,
    "DEVICE_UNAVAILABLE": grpc.StatusCode.FAILED_PRECONDITION,
    "CLOSED": grpc.StatusCode.FAILED_PRECONDITION,
    "PLUGIN_CRASHED": grpc.StatusCode.INTERNAL,
    "NO_MATCH": grpc.StatusCode.INVALID_ARGUMENT,
}


class GozooError(Exception):
    """An error with a gozoo wire code and optional typed metadata (string
    keys and values, as sdk.LayerError and sdk.ShapeError carry them).
    GozooError(code, message) builds one for any code; the subclasses
    below fix the code: BadInput(message)."""

    def __init__(self, code, message, metadata=None):
        super().__init__(message)
        if code not in _CODES:
            raise ValueError("unknown gozoo error code %r" % code)
        self.code = code
        self.message = message
        self.metadata = metadata or {}


class _Sentinel(GozooError):
    def __init__(self, message, metadata=None):
        super().__init__(self.CODE, message, metadata)


class UnknownArch(_Sentinel):
    """The architecture is not one the plugin offers (sdk.ErrUnknownArch)."""
    CODE = "UNKNOWN_ARCH"


class UnknownLayer(_Sentinel):
    """The layer is not in the model (sdk.ErrUnknownLayer); layer_error
    words it with suggestions."""
    CODE = "UNKNOWN_LAYER"


class BadInput(_Sentinel):
    """A tensor, pattern or argument is malformed (sdk.ErrBadInput);
    shape_error words shape mismatches."""
    CODE = "BAD_INPUT"


class BadOption(_Sentinel):
    """A load option or setting is invalid (sdk.ErrBadOption)."""
    CODE = "BAD_OPTION"


class Weights(_Sentinel):
    """Weights are missing, damaged or do not fit the model (sdk.ErrWeights)."""
    CODE = "WEIGHTS"


class Unsupported(_Sentinel):
    """The plugin lacks the capability or format asked for (sdk.ErrUnsupported)."""
    CODE = "UNSUPPORTED"


class DeviceUnavailable(_Sentinel):
    """The device asked for is absent (sdk.ErrDeviceUnavailable)."""
    CODE = "DEVICE_UNAVAILABLE"


class Closed(_Sentinel):
    """The model handle is closed or unknown (sdk.ErrClosed)."""
    CODE = "CLOSED"


class NoMatch(_Sentinel):
    """A freeze/unfreeze pattern matches no parameter (sdk.ErrNoMatch, which
    is also sdk.ErrBadInput); no_match_error words it."""
    CODE = "NO_MATCH"


def layer_error(name, candidates):
    """GozooError for an unknown layer, with "did you mean" suggestions."""
    sugg = suggest(name, candidates, 3)
    msg = "unknown layer %r" % name
    if sugg:
        msg += "; did you mean " + ", ".join('"%s"' % s for s in sugg) + "?"
    msg += " (gozoo layers ARCH lists them all)"
    return UnknownLayer(msg, {"layer": name, "suggestions": ",".join(sugg)})


def no_match_error(patterns, names):
    """GozooError for freeze/unfreeze patterns that match none of names,
    worded as sdk.ApplyTrainable words it (sdk.ErrNoMatch)."""
    parts = []
    for pat in patterns:
        msg = '"%s"' % pat
        sugg = suggest_patterns(pat, names, 3)
        if sugg:
            msg += "; did you mean " + ", ".join('"%s"' % s for s in sugg) + "?"
        elif names:
            msg += '; names look like "%s"' % names[0]
        parts.append(msg)
    return NoMatch("set trainable: sdk: pattern matches no parameter: %s (gozoo params ARCH lists the names)" % "; ".join(parts))


def suggest_patterns(pattern, names, limit):
    """The patterns closest to pattern among module prefixes ("layer4.*"),
    the names themselves and last components ("*.bias"), as
    sdk.SuggestPatterns builds them."""
    cands, seen = [], set()

    def add(c):
        if c not in seen:
            seen.add(c)
            cands.append(c)
    for n in names:
        parts = n.split(".")
        for i in range(1, len(parts)):
            add(".".join(parts[:i]) + ".*")
        add(n)
    for n in names:
        if "." in n:
            add("*" + n[n.rindex("."):])
    return suggest(pattern, cands, limit)


def shape_error(what, want, got, hint="", dtype="", want_dtype=""):
    """GozooError for a tensor of the wrong shape or dtype (sdk.ShapeError),
    worded as sdk.ShapeError words it: the dtype and shape seen, and the
    ones wanted (batch N, other free dimensions *)."""
    fmt = lambda s: "[" + ", ".join("N" if d == -1 else str(d) for d in s) + "]"
    fmt_want = lambda s: "[" + ", ".join(("N" if i == 0 else "*") if d < 0 else str(d) for i, d in enumerate(s)) + "]"
    label = what
    if dtype and "(%s)" % dtype not in what:
        label += " (%s)" % dtype
    msg = "%s has shape %s; want %s%s" % (label, fmt(got), want_dtype + " " if want_dtype else "", fmt_want(want))
    if hint:
        msg += ": " + hint
    md = {
        "what": what,
        "want": ",".join(str(d) for d in want),
        "got": ",".join(str(d) for d in got),
        "hint": hint,
    }
    if dtype:
        md["dtype"] = dtype
    if want_dtype:
        md["want_dtype"] = want_dtype
    return BadInput(msg, md)


class _Status(grpc.Status):
    def __init__(self, code, details, trailing_metadata):
        self.code = code
        self.details = details
        self.trailing_metadata = trailing_metadata


def to_status(err):
    """Returns the grpc.Status that carries err to the host."""
    code = _CODES[err.code]
    info = rpc_status_pb2.ErrorInfo(reason=err.code, domain=DOMAIN, metadata=err.metadata)
    st = rpc_status_pb2.Status(code=code.value[0], message=err.message)
    st.details.add().Pack(info)
    return _Status(code, err.message, (("grpc-status-details-bin", st.SerializeToString()),))


def abort(context, err, plugin="python"):
    """Ends the call with err: a GozooError keeps its code; any other
    exception travels as UNKNOWN with its type, message and the line that
    raised it, prefixed by the plugin's name."""
    if isinstance(err, GozooError):
        context.abort_with_status(to_status(err))
    msg = "%s plugin: %s: %s" % (plugin, type(err).__name__, err)
    tb = traceback.extract_tb(err.__traceback__)
    if tb:
        msg += " (at %s:%d in %s)" % (os.path.basename(tb[-1].filename), tb[-1].lineno, tb[-1].name)
    context.abort(grpc.StatusCode.UNKNOWN, msg)


def suggest(name, candidates, limit):
    """The candidates closest to name, as sdk.Suggest picks them."""
    scored = []
    for c in candidates:
        d = _edit_distance(name, c)
        if c.startswith(name) or c.endswith(name):
            d = 0
        if d <= len(name) // 2 + 2:
            scored.append((d, c))
    scored.sort(key=lambda x: x[0])  # stable, as sort.SliceStable
    return [c for _, c in scored[:limit]]


def _edit_distance(a, b):
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[len(a)][len(b)]
