"""What every benchmark prints: Markdown tables and the machine's state."""

import os


def print_table(header, rows):
    """Print a Markdown table, columns padded to their widest cell."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"

    print(line(header))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))


def load_average():
    """The 1/5/15-minute load average as ``"0.5/0.5/0.3"`` (``"n/a"`` where unknown)."""
    try:
        return "/".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:  # pragma: no cover - not on every platform
        return "n/a"


def cpus():
    """``"2 CPUs (2 usable by this process)"``."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on every platform
        usable = os.cpu_count()
    return f"{os.cpu_count()} CPUs ({usable} usable by this process)"
