"""What the upload commands share: ``ACTION upload MODEL FILE [options]``, the file checked,
then sent through the backend (the store, or a running server) with the options given."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from modeltel.analyzer.base.errors import InputError
from modeltel.analyzer.cli.backend import open_backend


def add_upload_command(
    subparsers: argparse._SubParsersAction,
    command: str,
    *,
    help: str,
    description: str | None,
    epilog: str,
    upload_help: str,
    file_help: str,
) -> tuple[argparse._SubParsersAction, argparse.ArgumentParser]:
    """``COMMAND ACTION …`` with its ``upload MODEL FILE`` action: the command's actions (to
    add more) and the upload's parser (to add its options)."""
    parser = subparsers.add_parser(
        command,
        help=help,
        description=description,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    upload = actions.add_parser(
        "upload",
        help=upload_help,
        epilog=epilog,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    upload.add_argument("model", metavar="MODEL")
    upload.add_argument("file", metavar="FILE", help=file_help)
    return actions, upload


def send(args: argparse.Namespace, kind: str, options: Sequence[str]) -> dict[str, Any]:
    """Upload ``args.file`` as ``kind`` (see :meth:`~.backend.Backend.upload`) with the
    arguments named ``options``; the summary. InputError when the file is not a file."""
    path = Path(args.file)
    if not path.is_file():
        raise InputError(f"{path} is not a file")
    given = {name: getattr(args, name) for name in options}
    return open_backend(args).upload(kind, args.model, path, given)
