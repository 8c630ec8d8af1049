"""The gRPC side of a Python plugin: the Backbone service over a Backbone
subclass, grpc.health.v1 and go-plugin's GRPCController, started behind
go-plugin's handshake on the channel (channel.py)."""

import inspect
import itertools
import os
import sys
import threading
from concurrent import futures

import grpc
import numpy as np

from . import channel
from .backbone import Batch, LoadRequest, TrainConfig, overrides
from .errors import BadInput, BadOption, Closed, UnknownArch, abort
from .pb import backbone_pb2 as pb
from .pb import backbone_pb2_grpc as pb_grpc
from .pb import grpc_controller_pb2, grpc_controller_pb2_grpc, health_pb2, health_pb2_grpc
from .wire import Assembler, chunks

# The protocol minor this package speaks (sdk.ProtocolMinor it was built for).
PROTOCOL_MINOR = 1

# go-plugin's handshake (internal/backbonev1/handshake.go).
MAGIC_KEY = "GOZOO_PLUGIN"
MAGIC_VALUE = "backbone-7c1f9e2a"
APP_PROTOCOL = 1

MAX_MESSAGE = 64 << 20  # backbonev1.MaxMessageBytes
WINDOW = 16 << 20  # backbonev1.WindowBytes

_FORMATS = {pb.WEIGHTS_FORMAT_NONE: "", pb.WEIGHTS_FORMAT_PTH: "pth",
            pb.WEIGHTS_FORMAT_SAFETENSORS: "safetensors", pb.WEIGHTS_FORMAT_ONNX: "onnx"}
_FORMAT_IDS = {v: k for k, v in _FORMATS.items() if v}
_DTYPE_IDS = {"float32": pb.DTYPE_FLOAT32, "int64": pb.DTYPE_INT64}


def absolute(path, what):
    """Returns path, which must be absolute: the plugin's working directory
    is its own, so a relative path would name another file than the user
    meant (the host makes the user's paths absolute before they cross)."""
    if not os.path.isabs(path):
        raise BadOption("%s %r is a relative path: this plugin takes absolute paths only "
                        "(gozoo makes them absolute; a program calling the plugin must too)" % (what, path))
    return path


def _format(f):
    return _FORMATS.get(f, "format-%d" % f)


def _and(names):
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _guard(fn):
    """Turns exceptions of a unary handler into gozoo statuses."""
    def wrapped(self, request, context):
        try:
            return fn(self, request, context)
        except Exception as e:  # every error reaches the host as a status
            abort(context, e, self.name)
    wrapped.__name__ = fn.__name__
    return wrapped


class Service(pb_grpc.BackboneServicer):
    """The Backbone service: Describe answered by one instance of cls,
    each Load a new instance kept under a handle until Close."""

    def __init__(self, cls):
        self.cls = cls
        self.proto = cls()
        self.name = cls.name
        self.models = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)
        self._archs = None

    def archs(self):
        if self._archs is None:
            self._archs = list(self.proto.describe())
        return self._archs

    def _model(self, handle):
        with self.lock:
            m = self.models.get(handle)
        if m is None:
            raise Closed("model handle %r is closed or unknown: load the model again" % handle)
        return m

    @_guard
    def Describe(self, request, context):
        p = self.proto
        d = pb.DescribeResponse(name=self.name, version=self.cls.version, protocol_minor=PROTOCOL_MINOR)
        d.capabilities.CopyFrom(pb.Capabilities(
            extract=True, train=overrides(p, "train"), export=overrides(p, "export"), devices=list(p.devices()),
            weights_formats=[_FORMAT_IDS[f] for f in self.cls.weights_formats]))
        for a in self.archs():
            spec = d.archs.add(name=a.name, doc=a.doc)
            spec.input.CopyFrom(pb.InputSpec(shape=list(a.shape), dtype=_DTYPE_IDS[a.dtype]))
            for o in a.options:
                spec.options.add(name=o.name, default=o.default, usage=o.usage, path=o.path)
        return d

    @_guard
    def Load(self, request, context):
        archs = self.archs()
        arch = next((a for a in archs if a.name == request.arch), None)
        if arch is None:
            raise UnknownArch("%s: arch %r: the plugin offers %s" % (self.name, request.arch, _and([a.name for a in archs])))
        opts = {o.name: o.default for o in arch.options}
        for k, v in request.options.items():
            if k not in opts:
                raise BadOption("option %r: %s takes %s" % (k, arch.name, ", ".join(opts) or "no options"))
            opts[k] = v
        m = self.cls()
        m.arch, m.input_shape, m.input_dtype = arch, list(arch.shape), arch.dtype
        m.check_device(request.device)
        try:
            m.load(LoadRequest(arch.name, opts, request.weights_path, _format(request.weights_format),
                               request.seed, request.device, request.threads))
        except BaseException:
            try:
                m.close()  # whatever load made before it failed
            except Exception:
                pass
            raise
        h = "h%d" % next(self.ids)
        with self.lock:
            self.models[h] = m
        return pb.LoadResponse(handle=h)

    @_guard
    def Layers(self, request, context):
        m = self._model(request.handle)
        shape = list(request.input_shape) or list(m.input_shape)
        m.check_input(shape, free_batch=True)
        resp = pb.LayersResponse()
        for name, kind, out, params in m.layers(shape):
            resp.layers.add(name=name, kind=kind, shape=list(out), params=params)
        return resp

    def Extract(self, request_iterator, context):
        try:
            first, asm, x = None, Assembler(), None
            # Further inputs (protocol minor 1): chunks named by input.
            more, extras = {}, {}
            for req in request_iterator:
                if first is None:
                    first = req
                name = req.input.name
                if name:
                    if name in extras:
                        raise BadInput("extract: data after input %r was complete" % name)
                    t = more.setdefault(name, Assembler()).add(req.input)
                    if t is not None:
                        extras[name] = t
                    continue
                if x is not None:
                    raise BadInput("extract: data after the input tensor was complete")
                x = asm.add(req.input)
            if first is None or x is None or len(extras) != len(more):
                raise BadInput("extract: the input tensors did not arrive complete")
            m = self._model(first.handle)
            m.check_input(list(x.shape), x.dtype.name)
            layers = m.check_layers(list(first.layers), list(x.shape))
            if extras:
                if len(inspect.signature(m.extract).parameters) < 3:
                    raise BadInput("%s takes one input; %s are not its inputs" % (m.arch.name, ", ".join(map(repr, extras))))
                outs = m.extract(x, layers, extras)
            else:
                outs = m.extract(x, layers)
            for name in layers:
                if name not in outs:
                    raise RuntimeError("%s.extract returned no output for layer %r" % (type(m).__name__, name))
            for name in dict.fromkeys(layers or outs):  # each once, in request order
                for c in chunks(name, outs[name]):
                    yield pb.ExtractResponse(output=c)
        except Exception as e:
            abort(context, e, self.name)

    @_guard
    def Params(self, request, context):
        m = self._model(request.handle)
        resp = pb.ParamsResponse()
        for name, shape, trainable in m.params():
            resp.params.add(name=name, shape=list(shape), trainable=trainable)
        return resp

    @_guard
    def SetTrainable(self, request, context):
        m = self._model(request.handle)
        return pb.SetTrainableResponse(matched=m.set_trainable(list(request.patterns), request.trainable))

    def Train(self, request_iterator, context):
        try:
            first = next(request_iterator, None)
            if first is None or first.WhichOneof("msg") != "config":
                raise BadInput("train: the first message must be the config")
            c = first.config
            m = self._model(c.handle)
            cfg = TrainConfig(c.optimizer, c.lr, c.backbone_lr, c.weight_decay, c.momentum, c.epochs, c.schedule,
                              c.seed, c.device, c.checkpoint_dir, c.resume_from)
            for ev in m.train(cfg, _batches(request_iterator)):
                yield pb.TrainEvent(**ev._asdict())
        except Exception as e:
            abort(context, e, self.name)

    @_guard
    def Export(self, request, context):
        m = self._model(request.handle)
        if not request.path:
            raise BadInput("export: give a path")
        absolute(request.path, "export path")
        m.export(request.path, _format(request.format), list(request.layers), request.opset)
        return pb.ExportResponse(path=request.path, bytes=os.path.getsize(request.path))

    @_guard
    def Close(self, request, context):
        with self.lock:
            m = self.models.pop(request.handle, None)
        if m is not None:
            m.close()
        return pb.CloseResponse()


def _batches(request_iterator):
    """Yields the Batch values of a Train stream after its config."""
    asm, head = Assembler(), None
    for req in request_iterator:
        if req.WhichOneof("msg") != "batch":
            raise BadInput("train: a second config arrived; send batches after the config")
        if head is None:
            head = req.batch
        x = asm.add(req.batch.input)
        if x is None:
            continue
        b, head = head, None
        yield Batch(x, np.array(b.labels, dtype=np.int64), b.validation, b.end_of_epoch)


class Health(health_pb2_grpc.HealthServicer):
    """grpc.health.v1: go-plugin checks the service named "plugin"."""

    def Check(self, request, context):
        return health_pb2.HealthCheckResponse(status=health_pb2.HealthCheckResponse.SERVING)


class Controller(grpc_controller_pb2_grpc.GRPCControllerServicer):
    """go-plugin's GRPCController: Shutdown stops the server."""

    def __init__(self, stop):
        self.stop = stop

    def Shutdown(self, request, context):
        threading.Thread(target=self.stop, daemon=True).start()
        return grpc_controller_pb2.Empty()


def serve(cls):
    """Serves cls, a Backbone subclass, as a gozoo plugin until the host
    shuts it down or goes away; returns the exit status. Run by hand, not
    by a host, it prints a hint and returns 1."""
    channel.die_with_parent()
    prog = "gozoo-backbone-" + cls.name
    if os.environ.get(MAGIC_KEY) != MAGIC_VALUE:
        sys.stderr.write("%s is a gozoo plugin: gozoo starts it (bin/gozoo plugins lists it); it is not run by hand.\n" % prog)
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(APP_PROTOCOL))
    if str(APP_PROTOCOL) not in versions.split(","):
        sys.stderr.write("%s speaks plugin protocol %d; the host offers %s: use matching gozoo and plugin versions\n" % (prog, APP_PROTOCOL, versions))
        return 1
    opts = [
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.http2.lookahead_bytes", WINDOW),
    ]
    try:
        chan = channel.Channel(name=cls.name)
    except (channel.ChannelError, OSError) as e:
        sys.stderr.write("%s: %s\n" % (prog, e))
        return 1
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=32), options=opts)
    done = threading.Event()

    def stop():
        server.stop(grace=0.5).wait()
        done.set()
        chan.close()
        # Handler threads may still wait on a cancelled stream; the
        # process must not linger for them after Shutdown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)

    try:
        pb_grpc.add_BackboneServicer_to_server(Service(cls), server)
        health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
        grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(stop), server)
        # Only the host's certificate opens this socket, and only this
        # user can reach the folder it is in.
        if server.add_secure_port(chan.address(), chan.credentials) == 0:
            raise OSError("cannot listen on %s" % chan.socket)
        server.start()
        # go-plugin's handshake line, first on stdout and flushed.
        sys.stdout.write(chan.handshake(APP_PROTOCOL))
        sys.stdout.flush()
        done.wait()
    except KeyboardInterrupt:
        server.stop(0)
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (prog, e))
        return 1
    finally:
        chan.close()
    return 0
