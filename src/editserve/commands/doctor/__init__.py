"""``editserve doctor``: can this machine serve the configured models, and if not, what to
change — one line per check, each with its fix; exit status 1 when something blocks serving.

    doctor/
      run.py      what it runs: every check in order, the report, the JSON (imported when
                  it runs)
      checks.py   Check (status, finding, fix), Findings, Gpu
      host.py     CUDA and the GPUs, host RAM, free disk, versions against the declared ones
      serving.py  per model: options, weights (hub or offline cache), memory fit; database;
                  storage
      annotators.py  the control-map annotators: OpenCV, depth and pose weights in the cache

It runs on a CPU-only machine too and says what serving would need there.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from editserve.commands.common import server_options, settings_or_exit


@click.command()
@server_options
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")
def doctor(as_json: bool, **options: Any) -> None:
    """Check this machine for serving: GPUs, memory fit, disk, versions, hub, database.

    One line per check with its fix; exits 1 when something blocks serving.
    """
    from editserve.commands.doctor.run import run_doctor

    sys.exit(run_doctor(settings_or_exit(**options), as_json_output=as_json))


__all__ = ["doctor"]
