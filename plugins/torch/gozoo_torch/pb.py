"""gozoo_plugin's protocol stubs under their former name, for callers that
import gozoo_torch.pb."""

from gozoo_plugin.pb import backbone_pb2  # noqa: F401
