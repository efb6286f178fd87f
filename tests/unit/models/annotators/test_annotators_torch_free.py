"""What API nodes import of the annotators (options, registry, cache keys) pulls in neither
torch, nor OpenCV, nor transformers: the API process stays torch-free."""

from __future__ import annotations

import subprocess
import sys

PROBE = """
import sys
import editserve.models.annotators.cache_key
import editserve.models.annotators.options
import editserve.models.annotators.registry
heavy = sorted({"torch", "cv2", "transformers", "diffusers", "numpy"} & set(sys.modules))
print(",".join(heavy))
"""


def test_the_api_side_of_the_annotators_imports_no_model_stack() -> None:
    run = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
