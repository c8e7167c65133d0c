"""Datasets, labels and splits."""
