"""The control-map annotators as data: what each computes, its options, its weights and their
licence. No torch, no OpenCV (API nodes, ``editserve pull`` and ``doctor`` read it).

The weights were chosen for a licence that allows commercial use and for offline use:

- canny, lineart, scribble, gray: OpenCV (Apache-2.0), no weights.
- depth: Depth-Anything-V2-**Small** (Apache-2.0) through transformers. Its Base, Large and
  Giant siblings are CC-BY-NC-4.0 (non-commercial), so they are not offered.
- pose: ViTPose-B "simple" (Apache-2.0; the 17 COCO body keypoints) on the boxes of the
  RT-DETR R50vd detector trained on COCO + Objects365 (Apache-2.0), both through
  transformers, drawn as the OpenPose 18-keypoint skeleton. DWPose (Apache-2.0, whole body
  with hands and face) would need onnxruntime and ONNX weights with no tiny twin buildable
  here; transformers' ViTPose checkpoints predict the body only, so hands and face are not
  drawn.
"""

from __future__ import annotations

from dataclasses import dataclass

from editserve.hub.sources import HubFiles
from editserve.models.annotators.options import OPTIONS_BY_TYPE, AnnotatorType

# What a transformers checkpoint folder needs (the same files in the tiny twins).
CHECKPOINT_FILES = ("config.json", "model.safetensors", "preprocessor_config.json")

DEPTH_WEIGHTS = HubFiles(
    "depth-anything/Depth-Anything-V2-Small-hf",
    None,
    CHECKPOINT_FILES,
    "depth annotator (Depth-Anything-V2-Small)",
)
POSE_DETECTOR_WEIGHTS = HubFiles(
    "PekingU/rtdetr_r50vd_coco_o365",
    None,
    CHECKPOINT_FILES,
    "pose annotator: person detector (RT-DETR R50vd)",
)
POSE_KEYPOINT_WEIGHTS = HubFiles(
    "usyd-community/vitpose-base-simple",
    None,
    CHECKPOINT_FILES,
    "pose annotator: keypoints (ViTPose-B)",
)


@dataclass(frozen=True)
class Annotator:
    """One annotator type. ``version`` is part of a map's cache key: bump it when the code
    changes what the annotator draws."""

    type: AnnotatorType
    title: str
    method: str
    weights: tuple[HubFiles, ...]
    licence: str
    version: int = 1

    @property
    def needs_weights(self) -> bool:
        return bool(self.weights)

    def card(self) -> dict[str, object]:
        """What the model card and ``doctor`` show of it."""
        options = OPTIONS_BY_TYPE[self.type].model_json_schema()["properties"]
        return {
            "type": self.type,
            "title": self.title,
            "method": self.method,
            "licence": self.licence,
            "weights": [
                {"repo": w.repo, "revision": w.ref, "files": list(w.files or ())}
                for w in self.weights
            ],
            "options": {
                name: {k: v for k, v in schema.items() if k in ("default", "minimum", "maximum")}
                for name, schema in options.items()
                if name != "type"
            },
        }


_OPENCV = "OpenCV (Apache-2.0)"
ANNOTATORS: dict[str, Annotator] = {
    a.type: a
    for a in (
        Annotator("canny", "Canny edges", "OpenCV Canny: white edges on black", (), _OPENCV),
        Annotator(
            "lineart",
            "Line art (classical)",
            "OpenCV adaptive threshold of the lightly blurred luma: white lines on black; a "
            "classical approximation, not the neural line-art annotator",
            (),
            _OPENCV,
        ),
        Annotator(
            "scribble",
            "Scribble",
            "OpenCV: blur, Canny, then dilation to the stroke thickness: white on black",
            (),
            _OPENCV,
        ),
        Annotator("gray", "Grayscale", "the luma as three equal channels", (), _OPENCV),
        Annotator(
            "depth",
            "Depth",
            "Depth-Anything-V2-Small relative depth, scaled to 0-255: near is bright",
            (DEPTH_WEIGHTS,),
            "Apache-2.0 (Depth-Anything-V2-Small; Base and Large are CC-BY-NC-4.0, not used)",
        ),
        Annotator(
            "pose",
            "Pose (OpenPose skeleton)",
            "RT-DETR person boxes, ViTPose body keypoints (COCO 17, the neck added as the "
            "shoulders' midpoint), drawn as the OpenPose 18-keypoint colored skeleton on black",
            (POSE_DETECTOR_WEIGHTS, POSE_KEYPOINT_WEIGHTS),
            "Apache-2.0 (ViTPose-B simple; RT-DETR R50vd COCO+O365)",
        ),
    )
}
TYPES: tuple[str, ...] = tuple(ANNOTATORS)


def annotator(kind: str) -> Annotator:
    """The annotator of a type; ValueError naming ``type`` and the choices otherwise."""
    try:
        return ANNOTATORS[kind]
    except KeyError:
        raise ValueError(f"type: must be one of {', '.join(TYPES)} (got {kind!r})") from None


def weights_sources(kinds: tuple[str, ...] | None = None) -> list[HubFiles]:
    """The hub files the annotators of ``kinds`` (default: all) load, each repo once."""
    found: dict[str, HubFiles] = {}
    for kind in kinds or TYPES:
        for source in annotator(kind).weights:
            found.setdefault(source.repo, source)
    return list(found.values())


def annotators_card() -> list[dict[str, object]]:
    """Every annotator's card, in the documented order."""
    return [a.card() for a in ANNOTATORS.values()]


__all__ = [
    "ANNOTATORS",
    "CHECKPOINT_FILES",
    "DEPTH_WEIGHTS",
    "POSE_DETECTOR_WEIGHTS",
    "POSE_KEYPOINT_WEIGHTS",
    "TYPES",
    "Annotator",
    "annotator",
    "annotators_card",
    "weights_sources",
]
