"""What the upload commands share: ``ACTION upload MODEL FILE [options]``, the file checked,
then sent through the backend (the store, or a running server) with the options given."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modeltel.analyzer.base.errors import InputError
from modeltel.analyzer.cli.backend import open_backend


def add_file_arguments(parser: argparse.ArgumentParser, file_help: str) -> None:
    """``MODEL`` and ``FILE``."""
    parser.add_argument("model", metavar="MODEL")
    parser.add_argument("file", metavar="FILE", help=file_help)


def send(args: argparse.Namespace, kind: str, options: Sequence[str]) -> dict[str, Any]:
    """Upload ``args.file`` as ``kind`` (see :meth:`~.backend.Backend.upload`) with the
    arguments named ``options``; the summary. InputError when the file is not a file."""
    path = Path(args.file)
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    given = {name: getattr(args, name) for name in options}
    return open_backend(args).upload(kind, args.model, path, given)
