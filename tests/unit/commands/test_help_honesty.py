"""Every `editserve …` command named in the command line's help texts exists.

Walks the click group (every command, subcommand and option help, short help and epilog)
and follows each "editserve word word …" mention through the groups: a word after a group
must be one of its commands; a plain lowercase word right after a command that has no
subcommands reads as a subcommand that does not exist (write an argument as its
placeholder, `editserve models MODEL_ID`, or as a value with punctuation, `cat.png`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import click
import pytest

from editserve.commands.main import main

MENTION = re.compile(r"\beditserve((?:\s+[^\s`'\"]+)+)")
SUBCOMMAND_WORD = re.compile(r"[a-z]+")


def help_texts(command: click.Command, path: str = "editserve") -> Iterator[tuple[str, str]]:
    """(where, text) for every help string of the command and, for a group, its commands."""
    for text in (command.help, command.short_help, command.epilog):
        if text:
            yield path, text
    for param in command.params:
        if isinstance(param, click.Option) and param.help:
            yield f"{path} {param.opts[-1]}", param.help
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from help_texts(sub, f"{path} {name}")


def missing_commands(text: str, root: click.Command = main) -> list[str]:
    """The mentions in ``text`` that name a command ``root`` does not have."""
    wrong = []
    for match in MENTION.finditer(" ".join(text.split())):
        command, said = root, ["editserve"]
        for word in match.group(1).split():
            if isinstance(command, click.Group):
                if word.startswith("-"):
                    break
                sub = command.commands.get(word)
                if sub is None:
                    wrong.append(" ".join([*said, word]))
                    break
                command = sub
                said.append(word)
                continue
            if SUBCOMMAND_WORD.fullmatch(word):
                wrong.append(" ".join([*said, word]))
            break
    return wrong


def test_the_walk_sees_the_commands_help() -> None:
    where = {place for place, _ in help_texts(main)}
    assert "editserve edit --lora" in where
    assert "editserve keys webhook" in where


@pytest.mark.parametrize(
    "text",
    [
        "a name from `editserve models show` (the server's list)",
        "run `editserve model` first",
        "see `editserve keys show KEY`",
    ],
)
def test_a_mention_of_a_missing_command_is_caught(text: str) -> None:
    assert missing_commands(text)


@pytest.mark.parametrize(
    "text",
    [
        "a name from `editserve models MODEL_ID` (the model's loras)",
        "editserve edit cat.png -p 'Give the cat a red hat' -o hat.png",
        "`editserve keys webhook KEY --show-secret`",
        "editserve --version",
        "editserve pull qwen-image-edit-2511",
    ],
)
def test_a_mention_of_a_real_command_passes(text: str) -> None:
    assert missing_commands(text) == []


def test_every_command_named_in_help_exists() -> None:
    wrong = [
        f"{place}: {mention}"
        for place, text in help_texts(main)
        for mention in missing_commands(text)
    ]
    assert wrong == []
