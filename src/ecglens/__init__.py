"""ecglens: classify electrocardiograms and show why."""

from ecglens.errors import EcgLensError

__version__ = "0.1.0"
__all__ = ["EcgLensError", "__version__"]
