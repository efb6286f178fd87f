"""The real-size architectures (bench.gpu's annotator rows) have the published checkpoints'
parameter counts: fp32 model.safetensors sizes of the hub repos / 4. Built on the meta
device (no memory)."""

from __future__ import annotations

import pytest
import torch
import transformers

from editserve.models.annotators import configs
from editserve.models.annotators.tiny import checkpoints

# model.safetensors sizes on the hub (fp32): 99.2 MB, 172 MB, 344 MB
PUBLISHED_BYTES = {
    "depth-anything/Depth-Anything-V2-Small-hf": 99.2e6,
    "PekingU/rtdetr_r50vd_coco_o365": 172e6,
    "usyd-community/vitpose-base-simple": 344e6,
}


@pytest.mark.parametrize("index", range(3))
def test_real_configs_have_the_published_parameter_counts(index: int) -> None:
    source, class_name, config, _processor = checkpoints()[index]
    with torch.device("meta"):
        model = getattr(transformers, class_name)(config("real"))
    count = sum(p.numel() for p in model.parameters())
    assert count * 4 == pytest.approx(PUBLISHED_BYTES[source.repo], rel=0.01), source.repo
    with torch.device("meta"):
        tiny = getattr(transformers, class_name)(config("tiny"))
    assert type(tiny) is type(model)
    assert sum(p.numel() for p in tiny.parameters()) < count / 100


def test_the_keypoint_and_detector_labels() -> None:
    assert configs.pose_config("tiny").num_labels == 17
    detector = configs.detector_config("tiny")
    assert detector.num_labels == 80 and detector.id2label[0] == "person"
