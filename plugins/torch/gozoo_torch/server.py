"""The gRPC side of the torch plugin: the Backbone service, grpc.health.v1
and go-plugin's GRPCController, started behind go-plugin's handshake."""

import faulthandler
import itertools
import os
import signal
import sys
import threading
from concurrent import futures

import grpc
import torch

from . import channel, models, train
from .errors import GozooError, abort
from .pb import backbone_pb2 as pb
from .pb import backbone_pb2_grpc as pb_grpc
from .pb import grpc_controller_pb2, grpc_controller_pb2_grpc, health_pb2, health_pb2_grpc
from .wire import Assembler, chunks

NAME = "torch"
VERSION = "0.1.0"
# The protocol minor this plugin speaks (sdk.ProtocolMinor it was built for).
PROTOCOL_MINOR = 1

# go-plugin's handshake (internal/backbonev1/handshake.go).
MAGIC_KEY = "GOZOO_PLUGIN"
MAGIC_VALUE = "backbone-7c1f9e2a"
APP_PROTOCOL = 1

MAX_MESSAGE = 64 << 20  # backbonev1.MaxMessageBytes
WINDOW = 16 << 20  # backbonev1.WindowBytes


def _guard(fn):
    """Turns exceptions of a unary handler into gozoo statuses."""
    def wrapped(self, request, context):
        try:
            return fn(self, request, context)
        except Exception as e:  # every error reaches the host as a status
            abort(context, e)
    wrapped.__name__ = fn.__name__
    return wrapped


class Backbone(pb_grpc.BackboneServicer):
    """The Backbone service over a table of loaded models."""

    def __init__(self):
        self.models = {}
        self.lock = threading.Lock()
        self.ids = itertools.count(1)

    def _model(self, handle):
        with self.lock:
            m = self.models.get(handle)
        if m is None:
            raise GozooError("CLOSED", "model handle %r is closed or unknown: load the model again" % handle)
        return m

    @_guard
    def Describe(self, request, context):
        d = pb.DescribeResponse(name=NAME, version=VERSION, protocol_minor=PROTOCOL_MINOR)
        devs = ["cpu"]
        if torch.cuda.is_available():
            devs.append("cuda")
        # Safetensors only: the host converts other checkpoints with its
        # safe reader, so no pickle from a user's file runs here.
        d.capabilities.CopyFrom(pb.Capabilities(extract=True, train=True, export=True, devices=devs,
                                                weights_formats=[pb.WEIGHTS_FORMAT_SAFETENSORS]))
        entries = [(n, shape, doc, models.arch_options(n)) for n, (shape, doc) in models.ARCHS.items()]
        entries.append((models.MODULE, [-1, 3, 224, 224], "your nn.Module: option factory=package.module:factory (and path=DIR)", models.MODULE_OPTIONS))
        entries.append((models.TORCHSCRIPT, [-1, 3, 224, 224], "a TorchScript file (torch.jit.save), which runs code from the file: option file=PATH", models.SCRIPT_OPTIONS))
        for name, shape, doc, opts in entries:
            a = d.archs.add(name=name, doc=doc)
            a.input.CopyFrom(pb.InputSpec(shape=shape, dtype=pb.DTYPE_FLOAT32))
            for on, od, ou, op in opts:
                a.options.add(name=on, default=od, usage=ou, path=op)
        return d

    @_guard
    def Load(self, request, context):
        m = models.build(request)
        h = "t%d" % next(self.ids)
        with self.lock:
            self.models[h] = m
        return pb.LoadResponse(handle=h)

    @_guard
    def Layers(self, request, context):
        m = self._model(request.handle)
        resp = pb.LayersResponse()
        for name, kind, shape, params in m.layers(list(request.input_shape) or None):
            resp.layers.add(name=name, kind=kind, shape=shape, params=params)
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
                        raise GozooError("BAD_INPUT", "extract: data after input %r was complete" % name)
                    t = more.setdefault(name, Assembler()).add(req.input)
                    if t is not None:
                        extras[name] = t
                    continue
                if x is not None:
                    raise GozooError("BAD_INPUT", "extract: data after the input tensor was complete")
                x = asm.add(req.input)
            if first is None or x is None or len(extras) != len(more):
                raise GozooError("BAD_INPUT", "extract: the input tensors did not arrive complete")
            m = self._model(first.handle)
            outs = m.extract(x, list(first.layers), extras)
            for name, t in outs.items():
                for c in chunks(name, t):
                    yield pb.ExtractResponse(output=c)
        except Exception as e:
            abort(context, e)

    @_guard
    def Params(self, request, context):
        m = self._model(request.handle)
        resp = pb.ParamsResponse()
        for name, shape, trainable in m.params():
            resp.params.add(name=name, shape=shape, trainable=trainable)
        return resp

    @_guard
    def SetTrainable(self, request, context):
        m = self._model(request.handle)
        return pb.SetTrainableResponse(matched=m.set_trainable(list(request.patterns), request.trainable))

    def Train(self, request_iterator, context):
        try:
            first = next(request_iterator, None)
            if first is None or first.WhichOneof("msg") != "config":
                raise GozooError("BAD_INPUT", "train: the first message must be the config")
            cfg = first.config
            m = self._model(cfg.handle)

            def batches():
                for req in request_iterator:
                    if req.WhichOneof("msg") != "batch":
                        raise GozooError("BAD_INPUT", "train: a second config arrived; send batches after the config")
                    yield req.batch

            with m.lock:
                yield from train.run(m, cfg, batches())
        except Exception as e:
            abort(context, e)

    @_guard
    def Export(self, request, context):
        m = self._model(request.handle)
        if not request.path:
            raise GozooError("BAD_INPUT", "export: give a path")
        models.absolute(request.path, "export path")
        fmt = request.format
        if fmt == pb.WEIGHTS_FORMAT_NONE:
            fmt = pb.WEIGHTS_FORMAT_ONNX if request.path.endswith(".onnx") else pb.WEIGHTS_FORMAT_PTH
        with m.lock:
            if fmt == pb.WEIGHTS_FORMAT_PTH:
                if request.layers:
                    raise GozooError("BAD_INPUT", "export: layers name extra ONNX outputs; a .pth holds weights only")
                train._save({k: v.detach().cpu() for k, v in m.net.state_dict().items()}, request.path)
            elif fmt == pb.WEIGHTS_FORMAT_ONNX:
                export_onnx(m, request.path, list(request.layers), request.opset or 17)
            else:
                raise GozooError("UNSUPPORTED", "export format %d: the torch plugin writes pth or onnx" % fmt)
        return pb.ExportResponse(path=request.path, bytes=os.path.getsize(request.path))

    @_guard
    def Close(self, request, context):
        with self.lock:
            self.models.pop(request.handle, None)
        return pb.CloseResponse()


def _with_layers(net, names):
    """Returns a class to swap in for net's own while exporting: its
    forward returns the final output, then the requested layers' outputs
    caught by forward hooks. Swapping the class, rather than wrapping the
    module, keeps the module scopes (and so the node names) unchanged."""
    base = net.__class__
    mods = dict(net.named_modules())

    class WithLayers(base):
        def forward(self, *args, **kwargs):
            got = {}
            hooks = [mods[n].register_forward_hook(_catch(n, got)) for n in names]
            try:
                out = models._first_tensor(base.forward(self, *args, **kwargs))
            finally:
                for h in hooks:
                    h.remove()
            return (out,) + tuple(got[n] for n in names)

    WithLayers.__name__ = base.__name__
    WithLayers.__qualname__ = base.__qualname__
    return WithLayers


def _catch(name, got):
    def hook(m, inp, out):
        # clone: a distinct graph value, safe from later in-place ops.
        got[name] = models._first_tensor(out).clone()
    return hook


def export_onnx(m, path, layers, opset):
    """Writes m as ONNX: its inputs (one "input", or those the inputs
    option names) with a dynamic batch axis, output "output", and one
    output per requested layer, named as the layer."""
    if m.scripted and layers:
        raise GozooError("UNSUPPORTED", "export: a TorchScript model exposes no inner layers")
    mods = m.modules()
    for n in layers:
        if n not in mods:
            from .errors import layer_error
            raise layer_error(n, list(mods))
    in_names = [name for name, _, _ in m.inputs]
    if "output" in layers or any(n in layers for n in in_names):
        raise GozooError("BAD_INPUT", "export: layer names %s are reserved for the graph's inputs and output" % ", ".join(in_names + ["output"]))
    if not 7 <= opset <= 17:
        raise GozooError("BAD_OPTION", "export: opset %d: torch %s writes opsets 7 to 17" % (opset, torch.__version__))
    xs = []
    for i, (_, dt, s) in enumerate(m.inputs):
        shape = [2 if d == -1 else d for d in (m.input_shape if i == 0 else s)]
        shape[0] = 2
        if dt == "int64":
            # Token ids: 0 and 1 are valid for any embedding.
            xs.append(torch.randint(0, 2, shape, device=m.device))
        else:
            xs.append(torch.randn(shape, device=m.device))
    net = m.net
    base = net.__class__
    names = ["output"] + layers
    axes = {n: {0: "N"} for n in in_names}
    for n in names:
        axes[n] = {0: "N"}
    m.net.eval()
    tmp = path + ".tmp"
    try:
        if layers:
            net.__class__ = _with_layers(net, layers)
        with torch.no_grad():
            torch.onnx.export(net, tuple(xs), tmp, input_names=in_names, output_names=names, dynamic_axes=axes,
                              opset_version=opset, do_constant_folding=True,
                              # PRESERVE keeps batch norms as nodes (EVAL would
                              # fold them into convolutions), so every module
                              # keeps its own output in the graph.
                              training=torch.onnx.TrainingMode.PRESERVE)
        os.replace(tmp, path)
    except GozooError:
        raise
    except Exception as e:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise GozooError("BAD_INPUT", "export %s to ONNX: %s: %s" % (m.arch, type(e).__name__, str(e).splitlines()[0] if str(e) else ""))
    finally:
        net.__class__ = base


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


def main():
    if os.environ.get(MAGIC_KEY) != MAGIC_VALUE:
        sys.stderr.write("gozoo-backbone-torch is a gozoo plugin: gozoo starts it (bin/gozoo plugins lists it); it is not run by hand.\n")
        return 1
    versions = os.environ.get("PLUGIN_PROTOCOL_VERSIONS", str(APP_PROTOCOL))
    if str(APP_PROTOCOL) not in versions.split(","):
        sys.stderr.write("gozoo-backbone-torch speaks plugin protocol %d; the host offers %s: use matching gozoo and plugin versions\n" % (APP_PROTOCOL, versions))
        return 1
    dump = os.environ.get("GOZOO_TORCH_TRACEBACKS")
    if dump:
        # kill -USR1 PID writes every thread's stack to this file.
        faulthandler.register(signal.SIGUSR1, file=open(dump, "a"), all_threads=True)
    threads = os.environ.get("GOZOO_TORCH_THREADS")
    torch.set_num_threads(int(threads) if threads else max(1, os.cpu_count() or 1))
    opts = [
        ("grpc.max_receive_message_length", MAX_MESSAGE),
        ("grpc.max_send_message_length", MAX_MESSAGE),
        ("grpc.http2.lookahead_bytes", WINDOW),
    ]
    try:
        chan = channel.Channel()
    except (channel.ChannelError, OSError) as e:
        sys.stderr.write("gozoo-backbone-torch: %s\n" % e)
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

    pb_grpc.add_BackboneServicer_to_server(Backbone(), server)
    health_pb2_grpc.add_HealthServicer_to_server(Health(), server)
    grpc_controller_pb2_grpc.add_GRPCControllerServicer_to_server(Controller(stop), server)
    try:
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
        sys.stderr.write("gozoo-backbone-torch: %s\n" % e)
        return 1
    finally:
        chan.close()
    return 0
