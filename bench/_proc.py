"""CPU seconds of processes read from /proc (Linux), for the SMTP benches."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

TICK = os.sysconf("SC_CLK_TCK")


def process_stats() -> Iterator[tuple[int, int, int, float, float]]:
    """(pid, parent pid, process group, own CPU s, own + reaped children's CPU s) of every
    process still readable."""
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{name}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # from field 3 (state) on
        own = sum(int(x) for x in fields[11:13]) / TICK  # utime stime
        yield (int(name), int(fields[1]), int(fields[2]), own,
               own + sum(int(x) for x in fields[13:15]) / TICK)  # cutime cstime
