"""Explanations: Grad-CAM (captum), CAM outputs, saliency."""

from ecglens.explain.gradcam import conv_layer_names, grad_cam

__all__ = ["conv_layer_names", "grad_cam"]
