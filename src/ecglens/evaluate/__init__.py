"""Metrics, confidence intervals and calibration."""

from ecglens.evaluate.metrics import classification_metrics, confusion_matrix

__all__ = ["classification_metrics", "confusion_matrix"]
