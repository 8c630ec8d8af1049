"""Unit tests of gozoo_plugin's pieces that need no host: tensors on the
wire, patterns, errors as gRPC statuses, the Backbone defaults, the
safetensors reader and the channel's refusals. Run by plugins/python's Go
test (go test ./plugins/python/), or: cd plugins/python && python3 -m
unittest discover -s tests."""

import json
import os
import struct
import tempfile
import unittest

import numpy as np

import gozoo_plugin as gp
from gozoo_plugin import channel, errors, safetensors, wire
from gozoo_plugin.pb import backbone_pb2 as pb
from gozoo_plugin.pb import rpc_status_pb2


class WireTest(unittest.TestCase):
    def roundtrip(self, a, chunk_bytes):
        old = wire.CHUNK_BYTES
        wire.CHUNK_BYTES = chunk_bytes
        try:
            msgs = list(wire.chunks("x", a))
        finally:
            wire.CHUNK_BYTES = old
        asm, out = wire.Assembler(), None
        for i, m in enumerate(msgs):
            out = asm.add(m)
            self.assertEqual(out is None, i < len(msgs) - 1)
        return msgs, out

    def test_float32_in_chunks(self):
        a = np.arange(30, dtype=np.float64).reshape(2, 3, 5) / 7
        msgs, out = self.roundtrip(a, 16)
        self.assertEqual(len(msgs), 8)  # 120 bytes in 16-byte chunks
        self.assertEqual(out.dtype, np.float32)
        self.assertTrue(out.flags.writeable)
        np.testing.assert_array_equal(out, a.astype(np.float32))

    def test_int64(self):
        a = np.array([[1, -2], [3, 1 << 40]], dtype=np.int64)
        _, out = self.roundtrip(a, 1 << 20)
        self.assertEqual(out.dtype, np.int64)
        np.testing.assert_array_equal(out, a)

    def test_empty(self):
        msgs, out = self.roundtrip(np.zeros((0, 4), np.float32), 16)
        self.assertEqual(len(msgs), 1)
        self.assertEqual(out.shape, (0, 4))

    def test_refusals(self):
        for name, chunks in [
            ("dtype", [pb.TensorChunk(dtype=pb.DTYPE_UNSPECIFIED, shape=[1], data=b"\0" * 4)]),
            ("negative", [pb.TensorChunk(dtype=pb.DTYPE_FLOAT32, shape=[-1], data=b"")]),
            ("gap", [pb.TensorChunk(dtype=pb.DTYPE_FLOAT32, shape=[2], offset=4, data=b"\0" * 4)]),
            ("overrun", [pb.TensorChunk(dtype=pb.DTYPE_FLOAT32, shape=[1], data=b"\0" * 8)]),
            ("disagree", [pb.TensorChunk(dtype=pb.DTYPE_FLOAT32, shape=[2], data=b"\0" * 4),
                          pb.TensorChunk(dtype=pb.DTYPE_FLOAT32, shape=[3], offset=4, data=b"\0" * 4)]),
            ("huge", [pb.TensorChunk(dtype=pb.DTYPE_FLOAT32, shape=[1 << 20, 1 << 20], data=b"")]),
        ]:
            with self.subTest(name), self.assertRaises(gp.BadInput):
                asm = wire.Assembler()
                for c in chunks:
                    asm.add(c)
        with self.assertRaises(gp.Unsupported):
            wire.Assembler().add(pb.TensorChunk(dtype=pb.DTYPE_FLOAT32, shape=[1], file=pb.TensorFile(path="/x", size=4)))

    def test_patterns(self):
        for pat, name, want in [("layer4.*", "layer4.0.conv1.weight", True), ("*", "fc.bias", True),
                                ("fc.?ias", "fc.bias", True), ("fc.*", "fc1.weight", False),
                                ("[a-c]*", "bn.weight", True), ("[^f]*", "fc", False), ("[^x]*", "fc", True), ("a\\*", "a*", True)]:
            with self.subTest(pat=pat, name=name):
                self.assertEqual(bool(gp.compile_pattern(pat).match(name)), want)
        for bad in ["[", "a\\", "[z-a]", "[]"]:
            with self.subTest(bad=bad), self.assertRaises(gp.BadInput):
                gp.compile_pattern(bad)


class ErrorsTest(unittest.TestCase):
    def test_sentinels(self):
        for cls, code in [(gp.UnknownArch, "UNKNOWN_ARCH"), (gp.UnknownLayer, "UNKNOWN_LAYER"), (gp.BadInput, "BAD_INPUT"),
                          (gp.BadOption, "BAD_OPTION"), (gp.Weights, "WEIGHTS"), (gp.Unsupported, "UNSUPPORTED"),
                          (gp.DeviceUnavailable, "DEVICE_UNAVAILABLE"), (gp.Closed, "CLOSED"), (gp.NoMatch, "NO_MATCH")]:
            with self.subTest(code):
                e = cls("what to do", {"k": "v"})
                self.assertIsInstance(e, gp.GozooError)
                self.assertEqual(e.code, code)
                st = rpc_status_pb2.Status.FromString(dict(errors.to_status(e).trailing_metadata)["grpc-status-details-bin"])
                info = rpc_status_pb2.ErrorInfo()
                self.assertTrue(st.details[0].Unpack(info))
                self.assertEqual((st.message, info.reason, info.domain, dict(info.metadata)),
                                 ("what to do", code, "backbone.gozoo", {"k": "v"}))
        with self.assertRaises(ValueError):
            gp.GozooError("NOT_A_CODE", "x")

    def test_layer_error_suggests(self):
        e = gp.layer_error("layer4.1", ["layer1", "layer4", "layer4.0", "fc"])
        self.assertEqual(e.code, "UNKNOWN_LAYER")
        self.assertIn('did you mean "layer4.0"', e.message)
        self.assertEqual(e.metadata["layer"], "layer4.1")

    def test_shape_error_metadata(self):
        e = gp.shape_error("input", [-1, 3, -1], [2, 4, 5], "give 3 channels", dtype="float32", want_dtype="float32")
        self.assertEqual(e.message, "input (float32) has shape [2, 4, 5]; want float32 [N, 3, *]: give 3 channels")
        self.assertEqual((e.metadata["want"], e.metadata["got"]), ("-1,3,-1", "2,4,5"))


class Tiny(gp.Backbone):
    name = "tiny"

    def describe(self):
        return [gp.Arch("tiny", [-1, 3, -1])]

    def load(self, req):
        self.weights = {"fc.weight": np.zeros((2, 3)), "fc.bias": np.zeros(2), "bn.weight": np.ones(3)}

    def layers(self, input_shape):
        return [gp.Layer("bn", "BatchNorm", [-1, 3, input_shape[2]]), gp.Layer("fc", "Linear", [-1, 2])]

    def extract(self, x, layers):
        return {}


class BackboneTest(unittest.TestCase):
    def model(self):
        m = Tiny()
        m.input_shape = [-1, 3, -1]
        m.load(None)
        return m

    def test_trainable(self):
        m = self.model()
        self.assertEqual([p.trainable for p in m.params()], [True, True, True])
        self.assertEqual(m.set_trainable(["*"], False), ["fc.weight", "fc.bias", "bn.weight"])
        self.assertEqual(m.set_trainable(["fc.*"], True), ["fc.weight", "fc.bias"])
        self.assertEqual([(p.name, p.shape, p.trainable) for p in m.params()],
                         [("fc.weight", [2, 3], True), ("fc.bias", [2], True), ("bn.weight", [3], False)])
        with self.assertRaises(gp.NoMatch) as cm:
            m.set_trainable(["fc.*", "head.*"], False)
        self.assertIn('"head.*"', cm.exception.message)
        self.assertTrue(all(p.trainable for p in m.params() if p.name.startswith("fc.")))  # nothing changed

    def test_fresh_state_per_instance(self):
        a, b = self.model(), self.model()
        a.set_trainable(["*"], False)
        self.assertTrue(all(p.trainable for p in b.params()))
        self.assertIsNot(a.lock, b.lock)

    def test_check_input(self):
        m = self.model()
        m.check_input([2, 3, 7], "float32")
        m.check_input([-1, 3, 7], free_batch=True)
        for shape, dtype, says in [([2, 4, 7], "float32", "want float32 [N, 3, *]"), ([2, 3], "float32", "has shape [2, 3]"),
                                   ([0, 3, 7], "float32", "[0, 3, 7]"), ([-1, 3, 7], "float32", "[N, 3, 7]"),
                                   ([2, 3, 7], "int64", "convert the input to float32")]:
            with self.subTest(shape=shape, dtype=dtype), self.assertRaises(gp.BadInput) as cm:
                m.check_input(shape, dtype)
            self.assertIn(says, cm.exception.message)

    def test_check_device(self):
        m = self.model()
        m.check_device("")
        m.check_device("cpu")
        for dev in ["cuda", "cuda:0", "tpu"]:
            with self.subTest(dev), self.assertRaises(gp.DeviceUnavailable):
                m.check_device(dev)

    def test_check_layers(self):
        m = self.model()
        self.assertEqual(m.check_layers([], [2, 3, 5]), ["fc"])
        self.assertEqual(m.check_layers(["bn", "fc"], [2, 3, 5]), ["bn", "fc"])
        with self.assertRaises(gp.UnknownLayer):
            m.check_layers(["fc2"], [2, 3, 5])

    def test_capabilities(self):
        class Trains(Tiny):
            def train(self, config, batches):
                yield gp.TrainEvent(epoch=1)
        from gozoo_plugin.backbone import overrides
        self.assertEqual((overrides(Tiny(), "train"), overrides(Trains(), "train"), overrides(Trains(), "export")), (False, True, False))
        with self.assertRaises(gp.Unsupported):
            Tiny().train(None, iter(()))


class SafetensorsTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()

    def tearDown(self):
        self.dir.cleanup()

    def path(self, name, data):
        p = os.path.join(self.dir.name, name)
        with open(p, "wb") as f:
            f.write(data)
        return p

    def test_roundtrip(self):
        arrays = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": np.array([1, -2], np.int64),
                  "c": np.array([True, False]), "d": np.zeros((0, 2), np.float16)}
        got, meta = safetensors.read(self.path("x.safetensors", safetensors.dumps(arrays, {"k": "v"})))
        self.assertEqual(meta, {"k": "v"})
        self.assertEqual(list(got), list(arrays))
        for k, a in arrays.items():
            self.assertEqual(got[k].dtype, a.dtype)
            np.testing.assert_array_equal(got[k], a)

    def test_bf16_widens_exactly(self):
        bits = np.array([0x3FC0, 0xC000], "<u2")  # 1.5, -2.0
        data = safetensors.dumps_raw([("w", "BF16", [2], bits.tobytes())])
        got, _ = safetensors.read(self.path("bf16.safetensors", data))
        np.testing.assert_array_equal(got["w"], np.array([1.5, -2.0], np.float32))

    def test_refusals(self):
        def st(header, data):
            h = json.dumps(header).encode()
            return struct.pack("<Q", len(h)) + h + data
        for name, data in [
            ("short", b"\1"),
            ("overlap", st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                            "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8)),
            ("bad dtype", st({"w": {"dtype": "OBJ", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 4)),
            ("trailing", st({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, b"\0" * 8)),
        ]:
            with self.subTest(name), self.assertRaises(gp.Weights):
                safetensors.read(self.path(name, data))
        with self.assertRaises(gp.Weights):
            safetensors.read(os.path.join(self.dir.name, "missing"))


class ChannelTest(unittest.TestCase):
    def test_needs_the_host_certificate(self):
        with self.assertRaises(channel.ChannelError) as cm:
            channel.Channel(env={}, name="t")
        self.assertIn("PLUGIN_CLIENT_CERT", str(cm.exception))
        with self.assertRaises(channel.ChannelError):
            channel.Channel(env={"PLUGIN_CLIENT_CERT": "not a certificate"}, name="t")

    def test_refuses_a_shared_folder(self):
        pem = channel.make_cert()[0].decode()
        with tempfile.TemporaryDirectory() as d:
            os.chmod(d, 0o755)
            with self.assertRaises(channel.ChannelError) as cm:
                channel.Channel(env={"PLUGIN_CLIENT_CERT": pem, "PLUGIN_UNIX_SOCKET_DIR": d}, name="t")
            self.assertIn("not private", str(cm.exception))
            os.chmod(d, 0o700)
            c = channel.Channel(env={"PLUGIN_CLIENT_CERT": pem, "PLUGIN_UNIX_SOCKET_DIR": d}, name="t")
            self.assertTrue(os.path.basename(c.socket).startswith("t-%d-" % os.getpid()))
            line = c.handshake(1)
            self.assertTrue(line.startswith("1|1|unix|%s|grpc|" % c.socket) and line.endswith("\n"))
            c.close()
            c.close()


if __name__ == "__main__":
    unittest.main()
