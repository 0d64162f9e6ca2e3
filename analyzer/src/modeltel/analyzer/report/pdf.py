"""Print an HTML report to PDF with a real renderer: headless Chromium, else WeasyPrint.

Chromium is looked up as ``$MODELTEL_CHROMIUM``, then ``chromium``, ``chromium-browser``,
``google-chrome`` on the PATH; it runs with a throw-away profile, no network services and
``--no-pdf-header-footer``. Failure to find or run a renderer is a :class:`ConfigError`
saying what to install.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from modeltel.analyzer.base import settings
from modeltel.analyzer.base.errors import ConfigError

CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--no-first-run",
    "--no-default-browser-check",
    "--no-pdf-header-footer",
    "--run-all-compositor-stages-before-draw",
)


def find_chromium() -> str | None:
    """The Chromium binary to use, or None."""
    chosen = os.environ.get(settings.MODELTEL_CHROMIUM)
    if chosen:
        return shutil.which(chosen) or (chosen if Path(chosen).is_file() else None)
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def html_to_pdf(html_file: Path, pdf_file: Path, *, timeout_s: float = 120.0) -> Path:
    """Render ``html_file`` into ``pdf_file``; return ``pdf_file``."""
    html_file, pdf_file = Path(html_file).resolve(), Path(pdf_file).resolve()
    pdf_file.parent.mkdir(parents=True, exist_ok=True)
    binary = find_chromium()
    if binary is not None:
        return _chromium(binary, html_file, pdf_file, timeout_s)
    try:
        import weasyprint
    except ImportError:
        raise ConfigError(
            "no PDF renderer found: install Chromium (apt-get install chromium) or set "
            f"{settings.MODELTEL_CHROMIUM} to a Chrome/Chromium binary, or pip install weasyprint"
        ) from None
    weasyprint.HTML(filename=str(html_file)).write_pdf(str(pdf_file))
    return pdf_file


def _chromium(binary: str, html_file: Path, pdf_file: Path, timeout_s: float) -> Path:
    if pdf_file.exists():
        pdf_file.unlink()
    with tempfile.TemporaryDirectory(prefix="modeltel-chromium-") as profile:
        command = [
            binary,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--print-to-pdf={pdf_file}",
            html_file.as_uri(),
        ]
        try:
            done = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=timeout_s,
                stdin=subprocess.DEVNULL,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ConfigError(
                f"Chromium ({binary}) did not print the PDF within {timeout_s:g} s"
            ) from None
        except OSError as exc:
            raise ConfigError(f"cannot run Chromium ({binary}): {exc.strerror or exc}") from exc
    if not pdf_file.exists() or pdf_file.stat().st_size == 0:
        tail = " ".join((done.stderr or "").strip().splitlines()[-3:])
        raise ConfigError(
            f"Chromium ({binary}) did not write {pdf_file} (exit code {done.returncode}"
            + (f": {tail[:300]}" if tail else "")
            + ")"
        )
    return pdf_file
