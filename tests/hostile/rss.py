"""Peak memory of a process tree: each process's largest RSS seen, summed over the processes."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time

import psutil


class TreePeak:
    """Samples a process and its descendants every ``every`` seconds until the root ends."""

    def __init__(self, pid: int, every: float = 0.1) -> None:
        self.peaks: dict[int, int] = {}
        self._root = psutil.Process(pid)
        self._every = every
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        while self._root.is_running() and self._root.status() != psutil.STATUS_ZOMBIE:
            with contextlib.suppress(psutil.Error):
                for process in (self._root, *self._root.children(recursive=True)):
                    with contextlib.suppress(psutil.Error):
                        rss = process.memory_info().rss
                        self.peaks[process.pid] = max(self.peaks.get(process.pid, 0), rss)
            time.sleep(self._every)

    def wait(self, timeout: float | None = None) -> float:
        """The peak in MiB once the sampling ended (the root exited)."""
        self._thread.join(timeout)
        return sum(self.peaks.values()) / 2**20


def run_measured(args: list[str], timeout: float, **kwargs) -> tuple[subprocess.CompletedProcess, float]:
    """Run a command; its result and the peak MiB of its process tree."""
    child = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    peak = TreePeak(child.pid)
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    return subprocess.CompletedProcess(args, child.returncode, out, err), peak.wait(10)
