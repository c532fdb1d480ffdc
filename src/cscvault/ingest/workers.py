"""Reading and screening files in worker processes while the caller loads earlier ones into the vault.

`screened_in_order(paths, study)` yields `(path, ScreenedDelivery | CscvaultError)` in the order given,
exactly what `read_and_screen` would return (or raise) for each file. With more than one core and enough
data it runs `read_and_screen` in up to `workers` worker processes (`python -c`, see `_Pool`), each on one
file at a time, so parsing and screening use every core while the caller commits deliveries one at a time.

What crosses between processes is pickled through a socket pair, in memory: nothing is written to disk.
Screened tables travel as Arrow tables (their buffers are copied, not turned into Python objects).
A worker dies with its parent (PR_SET_PDEATHSIG where Linux offers it; otherwise it stops at its next
read or write of the socket), never opens the vault, and never sees a key. A worker that crashes or is
killed costs nothing but time: its file is read again in the calling process, which then raises
whatever `read_and_screen` raises there.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Generator, Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path

from cscvault.errors import CscvaultError
from cscvault.ingest.pipeline import ScreenedDelivery, read_and_screen, to_arrow
from cscvault.study.model import Study

# Below this much input the ~1 s start-up of a worker process costs more than it saves.
MIN_PARALLEL_BYTES = 24 * 1024**2
_PR_SET_PDEATHSIG = 1
WORKERS_ENV = "CSCVAULT_INGEST_WORKERS"

Result = ScreenedDelivery | CscvaultError


def default_workers(paths: Sequence[Path]) -> int:
    """Worker processes worth starting for these files: none for a small job or on one core.
    `CSCVAULT_INGEST_WORKERS=N` sets the number for any job (0: read every file in the calling process)."""
    forced = os.environ.get(WORKERS_ENV, "").strip()
    if forced.isdigit():
        return min(int(forced), len(paths))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    if cores < 2 or len(paths) < 2:
        return 0
    total = 0
    for p in paths:
        with contextlib.suppress(OSError):
            total += p.stat().st_size
    return min(cores, len(paths)) if total >= MIN_PARALLEL_BYTES else 0


def screened_in_order(paths: Sequence[Path], study: Study, workers: int) -> Generator[tuple[Path, Result], None, None]:
    """Each path with its screened delivery (or the error it raised), in the given order."""
    if workers <= 0 or len(paths) == 0:
        for p in paths:
            yield p, _screen_here(p, study)
        return
    pool = _Pool(min(workers, len(paths)), study)
    try:
        yield from pool.run(paths, study)
    finally:
        pool.close()


def _screen_here(path: Path, study: Study) -> Result:
    try:
        return read_and_screen(path, study)
    except CscvaultError as exc:
        return exc


@dataclass
class _Worker:
    proc: subprocess.Popen[bytes]
    conn: Connection
    job: int | None = None  # index of the file it is working on


# Worker processes are started as `python -c` on this module (not multiprocessing's spawn, which would
# re-run the caller's main script in the worker). The vault password is not passed on.
_WORKER_CODE = "import sys; from cscvault.ingest.workers import _main; _main(int(sys.argv[1]), int(sys.argv[2]))"
_SECRET_ENV = ("CSCVAULT_PASSWORD", "CSCVAULT_RECOVERY_CODE")


class _Pool:
    def __init__(self, n: int, study: Study) -> None:
        env = {k: v for k, v in os.environ.items() if k not in _SECRET_ENV}
        self.workers: list[_Worker] = []
        try:
            for _ in range(n):
                ours, theirs = socket.socketpair()
                with ours, theirs:
                    proc = subprocess.Popen(
                        [sys.executable, "-c", _WORKER_CODE, str(theirs.fileno()), str(os.getpid())],
                        pass_fds=[theirs.fileno()],
                        stdin=subprocess.DEVNULL,
                        env=env,
                    )
                    # Only the worker holds its end from here: our death is its end-of-file.
                    conn = Connection(ours.detach())
                worker = _Worker(proc, conn)
                self.workers.append(worker)
                try:
                    conn.send(study)
                except OSError:
                    self._retire(worker)  # its files are read here instead
        except BaseException:
            self.close()
            raise

    def run(self, paths: Sequence[Path], study: Study) -> Iterator[tuple[Path, Result]]:
        results: dict[int, Result] = {}
        redo: set[int] = set()  # files whose worker died: read here when their turn comes
        next_job = 0
        for i, path in enumerate(paths):
            while i not in results and i not in redo:
                for w in list(self.workers):  # a worker that fails is retired from the list
                    # At most two files per worker ahead of the one being loaded: bounded memory, cores busy.
                    if w.job is None and next_job < len(paths) and next_job <= i + 2 * len(self.workers):
                        if self._send(w, next_job, paths[next_job]):
                            next_job += 1
                        else:
                            redo.add(next_job)
                            next_job += 1
                busy = [w for w in self.workers if w.job is not None]
                if not busy:
                    if i not in results:
                        redo.add(i)
                    break
                for conn in wait([w.conn for w in busy]):
                    w = next(x for x in busy if x.conn is conn)
                    got = self._receive(w)
                    if got is None:
                        redo.add(w.job if w.job is not None else i)
                        self._retire(w)
                    else:
                        results[got[0]] = got[1]
                        w.job = None
            if i in redo:
                redo.discard(i)
                yield path, _screen_here(path, study)
            else:
                yield path, results.pop(i)

    def _send(self, w: _Worker, index: int, path: Path) -> bool:
        try:
            w.conn.send((index, str(path)))
        except (OSError, ValueError):
            self._retire(w)
            return False
        w.job = index
        return True

    def _receive(self, w: _Worker) -> tuple[int, Result] | None:
        try:
            index, kind, payload = w.conn.recv()
        except Exception:  # end of file, a broken pipe, a reply that does not unpickle: read the file here
            return None
        if kind == "crash":
            return None  # read it here: the same call raises the same error, with its traceback
        if kind == "error":
            return index, payload
        screened, arrow = payload
        screened.arrow = arrow
        return index, screened

    def _retire(self, w: _Worker) -> None:
        w.job = None
        with contextlib.suppress(Exception):
            w.conn.close()
        if w in self.workers:
            self.workers.remove(w)
        if w.proc.poll() is None:
            w.proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            w.proc.wait(timeout=5)

    def close(self) -> None:
        for w in list(self.workers):
            with contextlib.suppress(Exception):
                w.conn.send(None)
        for w in list(self.workers):
            with contextlib.suppress(subprocess.TimeoutExpired):
                w.proc.wait(timeout=2)
            self._retire(w)


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent_pid:  # the parent died before we asked to follow it
        os._exit(0)


def _main(fd: int, parent_pid: int) -> None:
    """Worker process entry point: the study first, then (index, path) in, (index, kind, payload) out,
    until None or end of file."""
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn = Connection(fd)
    try:
        study = conn.recv()
    except (EOFError, OSError):
        return
    while True:
        try:
            job = conn.recv()
        except (EOFError, OSError):
            return
        if job is None:
            return
        index, path = job
        try:
            screened = read_and_screen(Path(path), study)
            arrow = to_arrow(screened)
            screened.tables = {}
            screened.birth_months = {}  # read_and_screen_all's business; ingest does not use it
            reply: tuple[int, str, object] = (index, "ok", (screened, arrow))
        except CscvaultError as exc:
            reply = (index, "error", exc)
        except Exception as exc:  # the parent reads the file again and raises it there
            reply = (index, "crash", type(exc).__name__)
        try:
            conn.send(reply)
        except (OSError, ValueError):
            return
        del reply
