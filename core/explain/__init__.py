"""Where the model looked: Grad-CAM from the graph's own outputs, and occlusion sensitivity."""

from core.explain.gradcam import gradcam_from_features, gradcam_to_volume, model_slice_to_volume
from core.explain.occlusion import in_head_boxes, occlusion_map

__all__ = ["gradcam_from_features", "gradcam_to_volume", "in_head_boxes", "model_slice_to_volume", "occlusion_map"]
