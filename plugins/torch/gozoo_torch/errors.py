"""gozoo_plugin's errors under their former name, for callers that
import gozoo_torch.errors."""

from gozoo_plugin.errors import GozooError, layer_error, no_match_error, shape_error, suggest  # noqa: F401
