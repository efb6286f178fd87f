"""The `editserve` command line: the group, and each command registered on it.

One module (or package) per command, named after it; a package's __init__ holds the
command and its run.py what the command runs (imported only when it runs, so that
`editserve --help` stays quick)::

    serve.py  worker.py  smoke/  keys.py  pull/  status/  doctor/  migrate.py  prune.py

What several commands share: common.py (settings, store, option sets) and startup.py (what
serve, worker and smoke run before they start). The client-side commands (edit, queue,
models) are registered from editserve.client.commands.
"""

from __future__ import annotations

import click

from editserve.commands.doctor import doctor
from editserve.commands.keys import keys
from editserve.commands.migrate import migrate
from editserve.commands.prune import prune
from editserve.commands.pull import pull
from editserve.commands.serve import serve
from editserve.commands.smoke import smoke
from editserve.commands.status import status
from editserve.commands.worker import worker


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="editserve")
def main() -> None:
    """editserve: self-hosted inference server for Qwen-Image-Edit-2509."""


def _register_client_commands() -> None:
    try:
        from editserve.client.commands import register
    except ImportError:  # the client package is optional while it is being built
        return
    register(main)


for _command in (serve, worker, smoke, keys, pull, status, doctor):
    main.add_command(_command)
_register_client_commands()
main.add_command(prune)
main.add_command(migrate)
