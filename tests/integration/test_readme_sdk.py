"""The README's OpenAI SDK examples run as written, against a proxy with the example policy
(its hosted models served by a stand-in gateway)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.keys import ADMIN_KEY
from tests.support.processes import ROOT
from tests.support.stack import Stack, running_stack

SECTION = (ROOT / "README.md").read_text().split("### The OpenAI SDK", 1)[1].split("\n## ", 1)[0]
EXAMPLES = re.findall(r"```python\n(.*?)```", SECTION, flags=re.DOTALL)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    policy = json.loads((ROOT / "policy" / "examples" / "default.json").read_text())
    with running_stack(tmp_path_factory.mktemp("readme-sdk"), policy) as running:
        yield running


def run_example(source: str, stack: Stack, tmp_path: Path) -> str:
    key_file = tmp_path / "admin.key"
    key_file.write_text(ADMIN_KEY + "\n")
    done = subprocess.run(
        [sys.executable, "-c", source],
        env={"SYMPHONY_URL": stack.url, "SYMPHONY_KEY_FILE": str(key_file), "PATH": "/usr/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_the_readme_has_the_examples() -> None:
    assert len(EXAMPLES) == 2


def test_the_chat_and_streaming_example_runs(stack: Stack, tmp_path: Path) -> None:
    stack.upstream.reset()
    out = run_example(EXAMPLES[0], stack, tmp_path)
    first, audit, *rest = out.splitlines()
    assert first.startswith("hosted/gemini-1.5-pro stop echo: Say hello in five words.")
    assert audit.startswith("run_")
    assert "echo: Count to five." in "\n".join(rest) and "tokens" in rest[-1]


def test_the_tool_call_example_runs(stack: Stack, tmp_path: Path) -> None:
    stack.upstream.reset()
    stack.upstream.update(
        "gemini-1.5-pro", tool_call={"name": "get_weather", "arguments": '{"city": "Berlin"}'}
    )
    out = run_example(EXAMPLES[1], stack, tmp_path).splitlines()
    assert out == [
        "hosted/gemini-1.5-pro get_weather {'city': 'Berlin'}",
        "echo: sunny, 21 C",
    ]
