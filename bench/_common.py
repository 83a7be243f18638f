"""What the benchmark scripts share (not a benchmark itself).

* Child processes: ``CHILDREN`` keeps every process group a benchmark starts,
  plus a watchdog process that kills them if the benchmark dies without
  cleaning up (even by SIGKILL).
* The orchestrators against Kamailio and sipp (``call_setup.py``, ``soak.py``,
  ``failover.py``): the report's ``environment`` block, starting and stopping
  watched Kamailio instances, the clean-up after a run and ``bench_main()``
  (worker mode, signals, table or JSON).
* The sound benchmarks (``audio_bridge.py``, ``echo_return.py``): a private
  PulseAudio for the run and the ``--json OUT`` file.

Scripts import it as ``bench._common`` (the project root on ``sys.path``).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
SCENARIOS = BENCH / "scenarios"  # sipp scenarios of the benchmarks
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.helpers.kamailio import Kamailio, kamailio_binary  # noqa: E402
from tests.helpers.sipp import sipp_binary  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- child processes

_WATCHDOG_CODE = r"""
import os, signal, sys, time
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line[:1] == "+":
        groups.add(int(line[1:]))
    elif line[:1] == "-":
        groups.discard(int(line[1:]))
# stdin closed: the benchmark is gone (normally it has emptied the set first)
for sig in (signal.SIGTERM, signal.SIGKILL):
    for g in groups:
        try:
            os.killpg(g, sig)
        except OSError:
            pass
    if groups and sig == signal.SIGTERM:
        time.sleep(1.0)
"""


def send_line(proc: subprocess.Popen, line: str) -> None:
    """Write ``line`` to ``proc``'s stdin pipe (text mode); a closed pipe (the
    process is gone) is ignored."""
    try:
        assert proc.stdin is not None
        proc.stdin.write(line + "\n")
        proc.stdin.flush()
    except (BrokenPipeError, OSError):
        pass


class Children:
    """Every process group this benchmark starts, plus a watchdog that kills them
    if the benchmark dies without cleaning up (its stdin pipe closes then)."""

    def __init__(self) -> None:
        self.procs: dict[int, subprocess.Popen] = {}
        self.watchdog: subprocess.Popen | None = None

    def _tell(self, line: str) -> None:
        if self.watchdog is None:
            self.watchdog = subprocess.Popen(
                [sys.executable, "-c", _WATCHDOG_CODE],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                text=True,
            )
        send_line(self.watchdog, line)

    def watch(self, pgid: int) -> None:
        self._tell(f"+{pgid}")

    def unwatch(self, pgid: int) -> None:
        self._tell(f"-{pgid}")

    def spawn(self, cmd: list[str], stdin: Any = subprocess.DEVNULL, **kw: Any) -> subprocess.Popen:
        """Start ``cmd`` as the leader of a new process group, kept and watched."""
        proc = subprocess.Popen(cmd, stdin=stdin, start_new_session=True, **kw)
        self.procs[proc.pid] = proc
        self.watch(proc.pid)
        return proc

    def kill(self, proc: subprocess.Popen, term_wait: float = 2.0) -> None:
        """SIGTERM, then SIGKILL the process group (each child leads its own)."""
        if proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                proc.wait(term_wait)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        if self.procs.pop(proc.pid, None) is not None:
            self.unwatch(proc.pid)

    def finish(self, proc: subprocess.Popen, timeout: float) -> int | None:
        """Wait up to ``timeout`` s for ``proc`` to exit, then kill what is left of
        its group. Its exit code, or None if it had to be killed."""
        try:
            return proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        finally:
            self.kill(proc)

    def kill_all(self) -> None:
        for proc in list(self.procs.values()):
            self.kill(proc, term_wait=1.0)

    def close(self) -> None:
        self.kill_all()
        wd, self.watchdog = self.watchdog, None
        if wd is not None:
            try:
                assert wd.stdin is not None
                wd.stdin.close()
            except OSError:
                pass
            try:
                wd.wait(5)
            except subprocess.TimeoutExpired:
                wd.kill()


CHILDREN = Children()
atexit.register(CHILDREN.close)


def run_logged(cmd: list[str], logf: Path, timeout: float) -> int | None:
    """Run ``cmd`` (cwd: the project root) with stdout and stderr in ``logf``;
    its exit code, or None if it was killed after ``timeout`` s."""
    with open(logf, "wb") as fh:
        proc = CHILDREN.spawn(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=str(ROOT))
        return CHILDREN.finish(proc, timeout)


def start_watched(kam: Kamailio) -> None:
    kam.start()
    CHILDREN.watch(kam.pid)  # type: ignore[arg-type]  # its own session: pgid == pid


def stop_watched(kam: Kamailio) -> None:
    pid = kam.pid
    kam.stop()
    if pid is not None:
        CHILDREN.unwatch(pid)


def host_port(kam: Any) -> str:
    return f"{kam.host}:{kam.port}"


def registrar(server: str, domain: str) -> Any:
    """What ``PhoneHarness.account()`` reads of a Kamailio, from a worker's
    ``--server HOST:PORT`` and ``--domain``."""
    host, port = server.rsplit(":", 1)
    return SimpleNamespace(host=host, port=port, domain=domain)


# ---------------------------------------------------------------- report


def _version(cmd: list[str], pattern: str) -> str:
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(pattern, out)
    return m.group(1) if m else "?"


def _dist_version(name: str) -> str:
    try:
        from importlib.metadata import version

        return version(name)
    except Exception:
        return "?"


def environment() -> dict[str, Any]:
    """The ``environment`` block of a Kamailio + sipp benchmark's report."""
    return {
        "kamailio": _version([kamailio_binary() or "kamailio", "-v"], r"kamailio (\S+)"),
        "sipp": _version([sipp_binary() or "sipp", "-v"], r"SIPp v([\d.]+)"),
        "pjsua2": _dist_version("pjsua2-python"),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }


# ---------------------------------------------------------------- orchestrator


def _on_signal(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def ignore_signals() -> None:
    """A second Ctrl-C (or SIGTERM) must not cut the clean-up short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def clean_up(kams: Iterable[Kamailio], workdir: Path, keep_logs: bool) -> None:
    """After a run (finished, broken or interrupted): end every child, stop the
    Kamailio instances, and remove the work dir unless ``keep_logs``."""
    ignore_signals()
    try:
        CHILDREN.kill_all()
    finally:
        for kam in kams:
            stop_watched(kam)
        CHILDREN.close()
    if keep_logs:
        log(f"logs kept in {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)


def bench_main(
    args: argparse.Namespace,
    worker_main: Callable[[argparse.Namespace], int],
    run: Callable[[argparse.Namespace], dict[str, Any]],
    print_report: Callable[[dict[str, Any]], None],
    exit_code: Callable[[dict[str, Any]], int] = lambda report: 0,
) -> int:
    """``main()`` of a Kamailio + sipp benchmark: ``--worker`` runs the worker;
    otherwise ``run(args)`` with SIGINT/SIGTERM/SIGHUP turned into
    KeyboardInterrupt, and its report printed as a table or (``--json``) JSON."""
    if args.worker:
        return worker_main(args)
    if kamailio_binary() is None or sipp_binary() is None:
        log("kamailio and sipp are needed (apt install kamailio sip-tester)")
        return 2
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even if started in the background
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGHUP, _on_signal)
    try:
        report = run(args)
    except KeyboardInterrupt as exc:
        log(f"interrupted ({str(exc) or 'Ctrl-C'}); cleaned up")
        return 1
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return exit_code(report)


# ---------------------------------------------------------------- sound benchmarks


@contextlib.contextmanager
def private_pulse(prefix: str) -> Iterator[tuple[Path, Any]]:
    """A private PulseAudio (``tests/helpers/pulse.py``) in a new temp dir, its
    environment in ``os.environ``; stopped and the dir removed afterwards."""
    from tests.helpers.pulse import PulseServer

    base = Path(tempfile.mkdtemp(prefix=prefix))
    pulse = PulseServer(base).start()
    os.environ.update(pulse.env)
    try:
        yield base, pulse
    finally:
        pulse.stop()
        shutil.rmtree(base, ignore_errors=True)


def write_json(path: str, results: dict[str, Any]) -> None:
    """``--json OUT``: the results to OUT (nothing when OUT is empty)."""
    if path:
        Path(path).write_text(json.dumps(results, indent=2))
