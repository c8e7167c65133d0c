"""ecglens.plot: matplotlib figures (object API, headless) for beats, records and metrics.

Every function returns a :class:`matplotlib.figure.Figure`; save it with
:func:`save_figure` or embed it with :func:`figure_to_base64_png`.
"""

from ecglens.plot.beats import normalize_attribution, plot_beat_attribution, plot_beat_grid
from ecglens.plot.metrics import plot_class_counts, plot_confusion_matrix, plot_training_curves
from ecglens.plot.record import plot_record_strip
from ecglens.plot.style import (
    CLASS_COLORS,
    class_color,
    close_figure,
    figure_to_base64_png,
    save_figure,
    use_headless_backend,
)

__all__ = [
    "CLASS_COLORS",
    "class_color",
    "close_figure",
    "figure_to_base64_png",
    "normalize_attribution",
    "plot_beat_attribution",
    "plot_beat_grid",
    "plot_class_counts",
    "plot_confusion_matrix",
    "plot_record_strip",
    "plot_training_curves",
    "save_figure",
    "use_headless_backend",
]
