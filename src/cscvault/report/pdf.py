"""The report as a self-contained PDF, printed by Debian's headless Chromium (the browser the console tests
already use), because evaluation reports are circulated as documents.

The HTML holds only released aggregates, but it still never touches a disk: Chromium reads it from, and
prints it to, a private directory in /dev/shm (memory) that is removed afterwards, with its profile there
too. With no Chromium, or no /dev/shm, there is no PDF and the caller says why in the run's outputs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
MEMORY_DIR = Path("/dev/shm")  # noqa: S108 - a private mkdtemp directory inside it, removed afterwards
TIMEOUT_SECONDS = 180  # a guard against a hung browser, not a performance limit
CHROMIUM_ARGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync", "--no-pdf-header-footer",
)  # fmt: skip


@dataclass(frozen=True)
class PdfResult:
    """The PDF bytes, or None and why there is none."""

    content: bytes | None
    renderer: str
    note: str = ""


def html_to_pdf(html: bytes, chromium: Path = CHROMIUM, memory_dir: Path = MEMORY_DIR) -> PdfResult:
    """Print `html` (self-contained: images embedded) to PDF with headless Chromium."""
    if not chromium.exists():
        return PdfResult(None, "none", f"no PDF: {chromium} is not installed (apt-get install chromium)")
    if not memory_dir.is_dir():
        return PdfResult(None, "none", f"no PDF: {memory_dir} (memory-backed temp) is not available")
    work = Path(tempfile.mkdtemp(prefix="cscvault-pdf-", dir=memory_dir))
    try:
        source, target = work / "report.html", work / "report.pdf"
        source.write_bytes(html)
        command = [
            str(chromium), *CHROMIUM_ARGS, f"--user-data-dir={work / 'profile'}",
            f"--print-to-pdf={target}", source.as_uri(),
        ]  # fmt: skip
        try:
            done = subprocess.run(
                command, capture_output=True, timeout=TIMEOUT_SECONDS, check=False, env=_browser_env(work)
            )
        except subprocess.TimeoutExpired:
            return PdfResult(None, "chromium", f"no PDF: Chromium did not finish in {TIMEOUT_SECONDS} s")
        if done.returncode != 0 or not target.exists():
            return PdfResult(None, "chromium", f"no PDF: Chromium exited with status {done.returncode}")
        data = target.read_bytes()
        if not data.startswith(b"%PDF"):
            return PdfResult(None, "chromium", "no PDF: Chromium's output is not a PDF")
        return PdfResult(data, "chromium")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _browser_env(work: Path) -> dict[str, str]:
    """Chromium's caches and config inside the private directory, not the user's home."""
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG", "LC_ALL", "TZ")}
    env.update(HOME=str(work), XDG_CONFIG_HOME=str(work / "config"), XDG_CACHE_HOME=str(work / "cache"))
    return env
