"""The annotator checkpoints' architectures, at their published size ("real") and as tiny
twins: the same model classes and image processors, far smaller widths and depths.

The real figures are those of the published checkpoints' config.json (Depth-Anything-V2-
Small-hf: a DINOv2-S backbone read at layers 3, 6, 9 and 12; vitpose-base-simple: ViT-B/16
at 256x192 with the simple decoder; rtdetr_r50vd_coco_o365: transformers' RT-DETR
defaults, 80 COCO classes). They serve the GPU benchmark (random weights time a real
architecture exactly); loading real weights reads the downloaded config.json instead.
transformers is imported inside the functions.
"""

from __future__ import annotations

from typing import Any, Literal

Size = Literal["real", "tiny"]

COCO_KEYPOINTS = (
    "nose", "left_eye", "right_eye", "left_ear", "right_ear", "left_shoulder",
    "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist", "left_hip",
    "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
)  # fmt: skip
DETECTOR_CLASSES = 80  # COCO's; class 0 is "person"

_DINOV2: dict[str, dict[str, Any]] = {
    "real": {"hidden_size": 384, "num_hidden_layers": 12, "num_attention_heads": 6},
    "tiny": {"hidden_size": 16, "num_hidden_layers": 4, "num_attention_heads": 2},
}
_DEPTH_HEAD: dict[str, dict[str, Any]] = {
    "real": {"neck_hidden_sizes": [48, 96, 192, 384], "fusion_hidden_size": 64, "head": 32},
    "tiny": {"neck_hidden_sizes": [8, 8, 16, 16], "fusion_hidden_size": 8, "head": 8},
}
_VIT: dict[str, dict[str, Any]] = {
    "real": {"hidden_size": 768, "num_hidden_layers": 12, "num_attention_heads": 12},
    "tiny": {"hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2},
}


def depth_config(size: Size) -> Any:
    from transformers import DepthAnythingConfig, Dinov2Config

    layers = _DINOV2[size]["num_hidden_layers"]
    shape: dict[str, Any] = {
        **_DINOV2[size],
        "image_size": 518,
        "patch_size": 14,
        "out_indices": [layers // 4, layers // 2, 3 * layers // 4, layers],
        "reshape_hidden_states": False,
        "apply_layernorm": True,
    }
    backbone = Dinov2Config(**shape)
    head = _DEPTH_HEAD[size]
    return DepthAnythingConfig(
        backbone_config=backbone,
        reassemble_hidden_size=backbone.hidden_size,
        neck_hidden_sizes=head["neck_hidden_sizes"],
        fusion_hidden_size=head["fusion_hidden_size"],
        head_hidden_size=head["head"],
        depth_estimation_type="relative",
    )


def depth_processor() -> Any:
    """The DPT processor as Depth-Anything-V2 configures it: 518 px, aspect kept, multiples
    of 14, bicubic, ImageNet normalisation."""
    from transformers import DPTImageProcessor

    return DPTImageProcessor(
        do_resize=True,
        size={"height": 518, "width": 518},
        keep_aspect_ratio=True,
        ensure_multiple_of=14,
        resample=3,
        do_rescale=True,
        do_normalize=True,
        image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225],
        do_pad=False,
    )


def pose_config(size: Size) -> Any:
    from transformers import VitPoseBackboneConfig, VitPoseConfig

    shape: dict[str, Any] = {
        **_VIT[size],
        "image_size": [256, 192],
        "patch_size": [16, 16],
        "out_indices": [_VIT[size]["num_hidden_layers"]],
    }
    backbone = VitPoseBackboneConfig(**shape)
    labels = dict(enumerate(COCO_KEYPOINTS))
    return VitPoseConfig(
        backbone_config=backbone,
        use_simple_decoder=True,
        scale_factor=4,
        id2label=labels,
        label2id={name: index for index, name in labels.items()},
    )


def pose_processor() -> Any:
    from transformers import VitPoseImageProcessor

    return VitPoseImageProcessor(size={"height": 256, "width": 192})


def detector_config(size: Size) -> Any:
    from transformers import RTDetrConfig, RTDetrResNetConfig

    labels = {0: "person", **{i: f"class_{i}" for i in range(1, DETECTOR_CLASSES)}}
    common: dict[str, Any] = {"id2label": labels, "label2id": {v: k for k, v in labels.items()}}
    if size == "real":
        return RTDetrConfig(**common)
    shape: dict[str, Any] = {
        "embedding_size": 8,
        "hidden_sizes": [8, 16, 16, 32],
        "depths": [1, 1, 1, 1],
        "layer_type": "basic",
        "out_indices": [2, 3, 4],
    }
    backbone = RTDetrResNetConfig(**shape)
    return RTDetrConfig(
        backbone_config=backbone,
        encoder_in_channels=[16, 16, 32],
        encoder_hidden_dim=16,
        encoder_ffn_dim=32,
        encoder_attention_heads=2,
        d_model=16,
        decoder_in_channels=[16, 16, 16],
        decoder_ffn_dim=32,
        decoder_layers=1,
        decoder_attention_heads=2,
        num_queries=20,
        num_denoising=0,
        **common,
    )


def detector_processor() -> Any:
    """RT-DETR's processor: 640x640, rescaled to 0-1, no normalisation."""
    from transformers import RTDetrImageProcessor

    return RTDetrImageProcessor(size={"height": 640, "width": 640}, do_normalize=False)


__all__ = [
    "COCO_KEYPOINTS",
    "Size",
    "depth_config",
    "depth_processor",
    "detector_config",
    "detector_processor",
    "pose_config",
    "pose_processor",
]
