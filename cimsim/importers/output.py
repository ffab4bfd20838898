"""Writing an import's two files (``<name>.npz``, ``<name>.yaml``): atomically, never over an existing file unless
``--force``, and without following a symlink (``os.replace`` swaps the link itself)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import yaml

from cimsim.atomic_io import atomic_write_bytes
from cimsim.errors import ConfigError
from cimsim.importers.builder import Imported
from cimsim.network.weights import network_arrays


def write_import(imp: Imported, out_dir: Path | str, header: str, *, force: bool = False) -> tuple[Path, Path]:
    """Write ``imp``'s weights and workload (``header``: the YAML's first comment line) into ``out_dir``; returns
    (npz path, yaml path).

    Raises:
        ConfigError: a target exists (and not ``force``), or the folder cannot be made.
    """
    out = Path(out_dir)
    name = imp.workload["name"]
    npz, yml = out / imp.workload["network"]["weights"], out / f"{name}.yaml"
    for target in (npz, yml):
        if target.is_symlink() or (target.exists() and not force):
            what = "is a symlink" if target.is_symlink() else "exists"
            raise ConfigError(f"{target} {what}; an import does not overwrite it", file="--out",
                              allowed="another --out folder or --name, or --force to replace regular files")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create folder {str(out)!r}: {exc.strerror or exc}", file="--out") from None
    buf = io.BytesIO()
    np.savez(buf, **network_arrays(imp.network))
    notes = "".join(f"# note: {n}\n" for n in imp.notes)
    text = f"# {header}\n{notes}" + yaml.safe_dump(imp.workload, sort_keys=False)
    atomic_write_bytes(npz, buf.getvalue())
    atomic_write_bytes(yml, text.encode())
    return npz, yml
