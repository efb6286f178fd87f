"""The client-side commands of the ``editserve`` CLI: edit, generate, queue, models,
lineage, usage, admin and batch.

They talk to a server through :class:`editserve.client.Client` (``--url`` /
``$EDITSERVE_URL``, ``--api-key`` / ``$EDITSERVE_API_KEY`` / ``$OXEN_API_KEY``).

Exit codes::

    0    success
    2    usage error (bad option or argument)
    3    the server refused or failed the request (API error), or a wait timed out
    4    the generation failed or was cancelled
    5    the server could not be reached
    130  interrupted with Ctrl-C (the generation is cancelled on the server first)
"""

from __future__ import annotations

from collections.abc import Callable

import click

from editserve.client._client import Client
from editserve.client.commands._admin import admin
from editserve.client.commands._batch import batch
from editserve.client.commands._common import EXIT_API_ERROR as EXIT_API_ERROR
from editserve.client.commands._common import EXIT_CONNECTION_ERROR as EXIT_CONNECTION_ERROR
from editserve.client.commands._common import EXIT_GENERATION_FAILED as EXIT_GENERATION_FAILED
from editserve.client.commands._common import EXIT_INTERRUPTED as EXIT_INTERRUPTED
from editserve.client.commands._common import EXIT_OK as EXIT_OK
from editserve.client.commands._common import EXIT_USAGE as EXIT_USAGE
from editserve.client.commands._common import connection_options as connection_options
from editserve.client.commands._common import exit_code_for
from editserve.client.commands._control import control_map
from editserve.client.commands._edit import ASPECT_RATIOS as ASPECT_RATIOS
from editserve.client.commands._edit import FORMATS as FORMATS
from editserve.client.commands._edit import edit
from editserve.client.commands._generate import generate
from editserve.client.commands._lineage import lineage
from editserve.client.commands._models import models
from editserve.client.commands._progress import ProgressDisplay
from editserve.client.commands._queue import queue
from editserve.client.commands._queue import queue_cancel as queue_cancel
from editserve.client.commands._queue import queue_get as queue_get
from editserve.client.commands._queue import queue_list as queue_list
from editserve.client.commands._usage import usage

# Tests replace this to run the commands against an in-process app.
client_factory: Callable[..., Client] = Client


def register(main: click.Group) -> None:
    """Add ``edit``, ``generate``, ``queue``, ``models``, ``lineage``, ``usage`` and
    ``admin`` to the ``editserve`` group."""
    main.add_command(edit)
    main.add_command(generate)
    main.add_command(queue)
    main.add_command(models)
    main.add_command(lineage)
    main.add_command(usage)
    main.add_command(admin)
    main.add_command(batch)
    main.add_command(control_map)


__all__ = ["register", "exit_code_for", "ProgressDisplay"]
