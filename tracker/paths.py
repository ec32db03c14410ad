"""Where tracker's templates are: ``templates/`` beside the package in a source checkout,
or the data-only package ``tracker_templates`` that pyproject.toml installs it as."""

from __future__ import annotations

import importlib.util
from pathlib import Path

SOURCE = Path(__file__).resolve().parent.parent


def templates() -> Path:
    """The templates folder (``datasette/``, ``email/``, ``report/``)."""
    if (SOURCE / "pyproject.toml").is_file() and (SOURCE / "templates").is_dir():
        return SOURCE / "templates"  # a source checkout, installed editable or not at all
    spec = importlib.util.find_spec("tracker_templates")
    if spec is not None and spec.submodule_search_locations:
        return Path(next(iter(spec.submodule_search_locations)))
    return SOURCE / "templates"  # missing: callers say so with this path
