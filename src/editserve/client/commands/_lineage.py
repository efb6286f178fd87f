"""``editserve lineage``: a generation's edit tree (what it was made from, what was made from
it) as indented text, or the server's answer as JSON."""

from __future__ import annotations

from collections.abc import Iterator

import click

from editserve.client._lineage_types import Lineage, LineageNode
from editserve.client.commands._common import (
    connection_options,
    handle_errors,
    make_client,
    print_json,
    short,
)

PROMPT_WIDTH = 60
MARK = "◀ asked"


@click.command()
@click.argument("generation_id")
@click.option(
    "--whole",
    is_flag=True,
    help="Every branch: the tree from its farthest ancestor, the asked one's siblings too "
    "(one more request).",
)
@connection_options
def lineage(
    generation_id: str, whole: bool, url: str | None, api_key: str | None, as_json: bool
) -> None:
    """Show the edit tree of GENERATION_ID: the generations it was made from (edits of
    this key's own results) and those made from it, one per line, indented under its
    parent; pruned ones keep their place."""
    with handle_errors(as_json), make_client(url, api_key) as client:
        tree = client.generations.lineage(generation_id)
        if whole and tree.root.generation_id != generation_id:
            tree = client.generations.lineage(tree.root.generation_id)
        if as_json:
            print_json(tree.raw)
            return
        for line in tree_lines(tree, generation_id):
            click.echo(line)


def tree_lines(tree: Lineage, asked: str) -> Iterator[str]:
    """One line per node: connectors that draw the tree, then the id, the status and the
    prompt; the asked generation marked."""
    walked = list(tree.walk())
    for index, (_, node) in enumerate(walked):
        yield _prefix(walked, index) + _describe(node, asked)


def _prefix(walked: list[tuple[int, LineageNode]], index: int) -> str:
    """The connectors before the node at ``index``: for each level above it, a bar where
    that ancestor has a later sibling; then a branch (├── or └──) to the node itself."""
    level = walked[index][0]
    if level == 0:
        return ""
    parts = []
    for depth in range(1, level + 1):
        more = _has_later_sibling(walked, index, depth)
        if depth < level:
            parts.append("│   " if more else "    ")
        else:
            parts.append("├── " if more else "└── ")
    return "".join(parts)


def _has_later_sibling(walked: list[tuple[int, LineageNode]], index: int, depth: int) -> bool:
    """Whether a node at ``depth`` comes after ``index`` before the walk climbs above it."""
    for level, _ in walked[index + 1 :]:
        if level < depth:
            return False
        if level == depth:
            return True
    return False


def _describe(node: LineageNode, asked: str) -> str:
    cells = [node.generation_id, node.status]
    if node.prompt:
        cells.append(short(node.prompt, PROMPT_WIDTH))
    line = "  ".join(cells)
    return f"{line}  {MARK}" if node.generation_id == asked else line
