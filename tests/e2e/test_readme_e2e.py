"""The README's shell calls stop at a failed step and show the server's own message (the
successful walk through every block is tests/e2e/test_readme_walkthrough_e2e.py)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from fixtures.support import LiveServer

pytestmark = pytest.mark.slow

BAD_IMAGE_URL = "http://127.0.0.1:9/none.png"  # allowed by the test server; nothing answers
README = Path(__file__).resolve().parents[2] / "README.md"


def readme_snippet(name: str) -> str:
    text = README.read_text()
    match = re.search(rf"<!-- readme-test: {name} -->\n```bash\n(.*?)```", text, re.S)
    assert match, f"README has no snippet {name!r}"
    return match.group(1)


def run_raw(snippet: str, server: LiveServer, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A snippet in a shell where the README's setup block ran (its exports)."""
    env = {
        "PATH": "/usr/bin:/bin",
        "EDITSERVE_URL": server.base_url,
        "EDITSERVE_API_KEY": server.api_key,
    }
    return subprocess.run(
        ["bash", "-c", snippet], env=env, cwd=cwd, capture_output=True, text=True, timeout=60
    )


@pytest.mark.timeout(120)
@pytest.mark.parametrize("name", ["poll", "sse", "setup"])
def test_a_failing_step_stops_and_shows_the_servers_error(
    live_server: LiveServer, tmp_path: Path, name: str
) -> None:
    """An enqueue the server refuses (nothing answers at that image URL) stops the snippet
    with the server's own message: no endless polling, no silent wait for an event."""
    (tmp_path / "editserve-data").mkdir()
    (tmp_path / "editserve-data" / "api_key").write_text(live_server.api_key)
    (tmp_path / "examples").mkdir()
    (tmp_path / "examples" / "cat.png").write_text("not an image")  # the upload's own failure
    snippet = readme_snippet(name).replace("http://127.0.0.1:8000", live_server.base_url)
    if name != "setup":  # the others run with setup's exports, here an unreachable picture
        snippet = f"export IMAGE_URL={BAD_IMAGE_URL}\n{snippet}"
    done = run_raw(snippet, live_server, tmp_path)
    assert "status:" not in done.stdout  # never polled a generation that does not exist
    assert "data:" not in done.stdout
    words = "input_image" if name != "setup" else "file"
    assert words in done.stderr, (done.stdout, done.stderr)
