"""The shipped examples: architectures (``arch_configs/``), workloads with their weights (``workloads/``) and,
when present, sweeps (``sweeps/``).

In the source tree they are the top-level folders of the checkout. An installed wheel carries the same files as
package data under ``cimsim/examples/<folder>/`` (setup.py maps each top-level folder there), so the files are
found the same way from any working directory. pip installs wheels unpacked, so these are plain files.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from cimsim.errors import ConfigError

#: Example folders, in the order they are listed. setup.py ships the same names.
FOLDERS = ("arch_configs", "workloads", "sweeps")
#: Files an example folder holds (YAML specs and the weights they name).
PATTERNS = ("*.yaml", "*.npz")
_SOURCE_ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class Example:
    """One shipped file: its folder, name, location and the first line of its header comment."""

    folder: str
    name: str
    path: Path
    summary: str

    @property
    def rel(self) -> str:
        """``folder/name``, the path relative to a checkout (and to ``cimsim examples --copy DIR``)."""
        return f"{self.folder}/{self.name}"


def folder_path(folder: str) -> Path | None:
    """Where the shipped ``folder`` is: the installed package data, else the source checkout; None if neither."""
    installed = Path(str(resources.files(__name__))) / folder
    if installed.is_dir():
        return installed
    source = _SOURCE_ROOT / folder
    if source.is_dir() and (_SOURCE_ROOT / "setup.cfg").is_file():
        return source
    return None


def _summary(path: Path) -> str:
    """First comment line of a YAML file (every shipped spec starts with one); weights files say so."""
    if path.suffix == ".npz":
        return "pre-trained weights (canonical .npz, docs/weights.md)"
    if path.suffix != ".yaml":
        return ""
    with path.open(encoding="utf-8") as f:
        for line in f:
            text = line.strip()
            if text.startswith("#"):
                return text.lstrip("#").strip()
            if text:
                return ""
    return ""


def list_examples() -> list[Example]:
    """Every shipped example file, folder by folder, sorted by name within a folder."""
    out = []
    for folder in FOLDERS:
        root = folder_path(folder)
        if root is None:
            continue
        files = sorted({p for pattern in PATTERNS for p in root.glob(pattern)})
        out += [Example(folder, p.name, p, _summary(p)) for p in files]
    return out


def shipped_path(rel: str) -> Path | None:
    """The shipped file ``folder/name`` (e.g. ``arch_configs/spindrop.yaml``), or None."""
    folder, _, name = rel.partition("/")
    root = folder_path(folder) if folder in FOLDERS else None
    if root is None or not name or not (root / name).is_file():
        return None
    return root / name


def copy_examples(dest: str | Path) -> list[Path]:
    """Copy every shipped example into ``dest/<folder>/`` for editing; existing files are never overwritten.

    Raises:
        ConfigError: a file of the same name already exists in ``dest`` (nothing is copied then).
    """
    dest = Path(dest)
    examples = list_examples()
    clash = [dest / e.rel for e in examples if (dest / e.rel).exists()]
    if clash:
        raise ConfigError("would overwrite an existing file", file=str(clash[0]),
                          allowed="a directory without arch_configs/ and workloads/ files of the same names")
    written = []
    for e in examples:
        target = dest / e.rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(e.path, target)
        written.append(target)
    return written
