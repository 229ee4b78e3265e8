"""Lambda's /var/runtime for a local function: awslambdaric and its dependencies, nothing else."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

RUNTIME_DISTRIBUTION = "awslambdaric"


def link_runtime(target: Path, distribution: str = RUNTIME_DISTRIBUTION) -> list[Path]:
    """Fill `target` with symlinks to `distribution` and its dependencies, nothing else.

    This is our /var/runtime: the runtime client is importable without exposing the rest of
    the virtualenv to the function. Returns the linked sources.
    """
    target.mkdir(parents=True, exist_ok=True)
    linked: list[Path] = []
    todo = [distribution]
    seen: set[str] = set()
    for _ in range(64):  # a dependency closure far larger than awslambdaric's (3 packages)
        if not todo:
            break
        name = todo.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        seen.add(key)
        dist = importlib.metadata.distribution(name)
        tops = {f.parts[0] for f in dist.files or [] if f.parts}
        for top in sorted(tops - {"..", "__pycache__"}):
            source = Path(str(dist.locate_file(top)))
            link = target / top
            if source.exists() and not link.exists():
                link.symlink_to(source, target_is_directory=source.is_dir())
                linked.append(source)
        for requirement in dist.requires or []:
            if "extra ==" in requirement:
                continue
            match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
            if match:
                todo.append(match.group(1))
    return linked
