"""describe_failure: the caller reads a message worded by the kind of failure; the
exception's own text (library messages, paths) never reaches it."""

from __future__ import annotations

import errno

import pytest
from PIL import UnidentifiedImageError

from editserve.worker.output import describe_failure

SECRET = "/srv/private/weights/model.safetensors at 0x7f3a"


class OutOfMemoryError(RuntimeError):
    """Named like torch's."""


class ClientError(Exception):
    """Named and placed like botocore's."""


ClientError.__module__ = "botocore.exceptions"


@pytest.mark.parametrize(
    ("exc", "stage", "expected"),
    [
        (OutOfMemoryError(f"CUDA out of memory. {SECRET}"), "generating", "out of memory"),
        (MemoryError(SECRET), "generating", "out of memory"),
        (RuntimeError(f"CUDA error: out of memory {SECRET}"), None, "out of memory"),
        (OSError(errno.ENOSPC, f"No space left on device: {SECRET}"), "storing the result",
         "the server ran out of disk space while storing the result"),
        (FileNotFoundError(errno.ENOENT, SECRET), "generating",
         "the server's file storage failed while generating"),
        (ClientError(f"An error occurred (AccessDenied) {SECRET}"), "storing the result",
         "the server's file storage failed while storing the result"),
        (UnidentifiedImageError(f"cannot identify image file {SECRET}"), "generating",
         "an input image could not be decoded while generating"),
        (RuntimeError(f"CUDA error: device-side assert triggered {SECRET}"), "generating",
         "the GPU reported an error while generating"),
        (ValueError(f"absolute aspect ratio must be smaller than 200, got 268.0 {SECRET}"),
         "generating", "the model could not process this request while generating"),
        (KeyError(SECRET), "generating", "the model could not process this request"),
        (RuntimeError(f"mat1 and mat2 shapes cannot be multiplied {SECRET}"), "generating",
         "an internal error occurred while generating"),
        (Exception(), None, "an internal error occurred; the server log has the details"),
    ],
)  # fmt: skip
def test_each_kind_of_failure_is_worded_for_the_caller(
    exc: BaseException, stage: str | None, expected: str
) -> None:
    message = describe_failure(exc, stage)
    assert message.startswith(expected)
    assert SECRET not in message and "0x7f3a" not in message
    assert type(exc).__name__ not in message
    assert "\n" not in message and len(message) <= 300


def test_the_out_of_memory_message_says_what_to_do() -> None:
    message = describe_failure(OutOfMemoryError("CUDA out of memory"), "generating")
    assert message == (
        "out of memory while generating; try fewer/smaller input images, "
        "`preview: true`, or a memory-saving mode on this server"
    )


def test_a_model_load_failure_is_worded_for_readiness() -> None:
    """What /readyz and the model card show when a worker could not load the model."""
    assert describe_failure(RuntimeError(SECRET), "loading the model") == (
        "an internal error occurred while loading the model; the server log has the details"
    )
    oom = describe_failure(OutOfMemoryError(SECRET), "loading the model")
    assert oom.startswith("out of memory while loading the model; use a memory-saving mode")
    assert SECRET not in oom
