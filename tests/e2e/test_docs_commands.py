"""The commands in the docs work: the README's quick start against a real `crm serve`, and every
`crm` command line in README.md and docs/*.md names a real sub-command with real options."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from crm.cli import main
from tests.browser.served import Served

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted(p for p in (ROOT / "docs").glob("*.md") if p.name != "benchmarks.md")]
FENCE = re.compile(r"^```bash\n(.*?)^```", re.MULTILINE | re.DOTALL)
# A `crm` invocation: `crm ...`, `.venv/bin/crm ...`, `python -m crm ...`, `.venv/bin/python -m crm ...`.
CRM = re.compile(r"^(?:\S*/)?(?:crm|python3? -m crm)(?:\s+(.*))?$")
ENV_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=\S*\s+")


def bash_blocks(text: str) -> list[str]:
    return FENCE.findall(text)


def quick_start_blocks() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("\n## Quick start\n", 1)[1].split("\n## ", 1)[0]
    return bash_blocks(section)


def other_blocks() -> list[tuple[str, str]]:
    """(file name, block) for every bash block of the docs but the quick start, which runs for real."""
    quick = set(quick_start_blocks())
    return [(doc.name, block) for doc in DOCS for block in bash_blocks(doc.read_text()) if block not in quick]


def crm_invocations(block: str) -> list[list[str]]:
    """The arguments of every `crm` command in a block (comments, env assignments and pipes cut off)."""
    found = []
    for line in block.replace("\\\n", " ").splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)
        for part in re.split(r"&&|\|\||;|\||\$\(|\)|&(?=\s|$)", line):
            part = part.strip()
            while ENV_ASSIGNMENT.match(part):
                part = ENV_ASSIGNMENT.sub("", part, count=1)
            match = CRM.match(part)
            if match:
                found.append(shlex.split(match.group(1) or ""))
    return found


def help_of(path: list[str]) -> str:
    # Settings that touch nothing: no .secret-key file beside a default database.
    env = {"DATABASE_URL": "sqlite://", "SECRET_KEY": "docs-check", "LOG_LEVEL": "WARNING"}
    result = CliRunner().invoke(main, [*path, "--help"], env=env)
    assert result.exit_code == 0, (path, result.output)
    return result.output


def named(path: list[str]) -> str:
    return " ".join(["crm", *path])


def check_invocation(args: list[str]) -> list[str]:
    """Problems with one `crm` command line: an unknown sub-command or an option its help lacks."""
    command: click.Command = main
    path: list[str] = []
    rest = list(args)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        name = rest.pop(0)
        if name not in command.commands:
            return [f"{named(path)}: no sub-command {name!r}"]
        command, path = command.commands[name], [*path, name]
    if isinstance(command, click.Group):
        return [f"{named(path)} is a group; it needs a sub-command"] if rest else []
    text = help_of(path)
    options = [arg.split("=", 1)[0] for arg in rest if arg.startswith("-") and arg != "-"]
    return [f"{named(path)}: option {option} is not in its --help" for option in options if option not in text]


def test_every_crm_command_in_the_docs_exists_with_its_options():
    invocations = [(name, args) for name, block in other_blocks() for args in crm_invocations(block)]
    # Check the scan finds the commands the docs are made of (a broken pattern would find none).
    assert len(invocations) >= 10, invocations
    problems = [f"{name}: {problem}" for name, args in invocations for problem in check_invocation(args)]
    assert problems == []


def test_the_checker_refuses_what_the_cli_lacks():
    assert check_invocation(["projections", "status"]) == []
    assert check_invocation(["apikey", "create", "--admin", "--name", "x"]) == []
    assert check_invocation(["worker", "-c", "8"]) == []
    assert check_invocation(["projection", "status"]) == ["crm: no sub-command 'projection'"]
    assert check_invocation(["apikey", "create", "--owner", "x"]) == [
        "crm apikey create: option --owner is not in its --help"
    ]
    assert crm_invocations("KEY=$(crm apikey bootstrap)  # the key\nPORT=1 python -m crm serve --port 2 &") == [
        ["apikey", "bootstrap"],
        ["serve", "--port", "2"],
    ]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_links_between_the_docs_point_at_files_and_headings_that_exist():
    broken = []
    for doc in DOCS:
        for target in re.findall(r"\]\(([^)\s]+)\)", doc.read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (doc.parent / path).resolve() if path else doc
            if not linked.exists():
                broken.append(f"{doc.name}: {target}")
            elif anchor and linked.suffix == ".md":
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.MULTILINE)
                if anchor not in {slug(h) for h in headings}:
                    broken.append(f"{doc.name}: {target}")
    assert broken == []


@pytest.fixture
def server(tmp_path):
    served = Served(tmp_path).start()
    yield served
    served.stop()


def test_readme_quick_start_runs_as_written(server, tmp_path):
    blocks = quick_start_blocks()
    assert len(blocks) >= 4, blocks
    # One shell for the whole quick start, as a reader runs it in one terminal: a block's
    # variables stay for the next. `set -e` stops at the first failing command; the markers
    # say which block it was in.
    script = ["set -eo pipefail"]
    for number, block in enumerate(blocks, 1):
        script += [f"echo '>>> block {number}' >&2", block, f"echo '<<< block {number} ok' >&2"]
    env = {**server.env, "CRM_URL": server.base, "KEY": server.key}

    result = subprocess.run(
        ["bash", "-c", "\n".join(script)], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120
    )

    log = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == 0, log
    assert [f"<<< block {n} ok" in result.stderr for n in range(1, len(blocks) + 1)] == [True] * len(blocks), log
    # Check the campaign the quick start ran completed and reached its customer.
    campaigns = server.api("GET", "/api/campaigns/")["results"]
    assert [c["status"] for c in campaigns] == ["completed"], log
    outreach = server.api("GET", f"/api/campaigns/{campaigns[0]['id']}/events/")
    assert outreach["count"] >= 1 and {r["status"] for r in outreach["results"]} == {"sent"}, outreach
    assert "completed" in result.stdout.split(), log
