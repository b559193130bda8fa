"""The table of docs/benchmarks.md: medians, ratios, paired intervals, verdicts, rows."""

from __future__ import annotations

import random
import re
import statistics
from typing import Any

# -- numbers ----------------------------------------------------------------------


def summary(values: list[float | None]) -> dict[str, Any]:
    """Median, min, max and count of the finite values (None = never / failed)."""
    finite = [v for v in values if v is not None]
    if not finite:
        return {"n": 0, "median": None, "min": None, "max": None, "missing": len(values)}
    return {
        "n": len(finite),
        "median": statistics.median(finite),
        "min": min(finite),
        "max": max(finite),
        "missing": len(values) - len(finite),
    }


HEADER = (
    "| figure | ours | reference | ratio | target | verdict |\n"
    "| --- | --- | --- | --- | --- | --- |"
)


def dist(values: list[float | None], unit: str = "s", scale: float = 1.0, nd: int = 3) -> str:
    """'median (min-max, n=N)' of the finite values; 'never' parts counted."""
    sm = summary([None if v is None else v * scale for v in values])
    if sm["n"] == 0:
        return f"never ({sm['missing']}/{sm['missing']})" if values else "no runs"
    text = f"{sm['median']:.{nd}f} {unit} ({sm['min']:.{nd}f}-{sm['max']:.{nd}f}, n={sm['n']})"
    if sm["missing"]:
        text += f"; never in {sm['missing']} of {len(values)}"
    return text


def med(values: list[float | None]) -> float | None:
    """The median of the finite values."""
    return summary(values)["median"]


def num(value: float | None) -> float:
    """A median for arithmetic: none (every run failed) is NaN, so its verdict is a MISS."""
    return float("nan") if value is None else value


def ratio(a: float | None, b: float | None) -> str:
    """a / b as text."""
    if a is None or b is None or b == 0:
        return "-"
    return f"{a / b:.3f}"


def verdict(ok: bool | None) -> str:
    """pass / MISS."""
    return "n/a" if ok is None else ("pass" if ok else "**MISS**")


def row(*cells: str) -> str:
    """One table row."""
    return "| " + " | ".join(cells) + " |"


def ratio_row(
    label: str, ours: list[float | None], ref: list[float | None], limit: float | None = 1.05
) -> str:
    """A row comparing two distributions by the ratio of their medians (limit None: no target)."""
    a, b = med(ours), med(ref)
    if limit is None:
        target, judged = "(informative)", "n/a"
    else:
        target, judged = f"ratio <= {limit}", verdict(a / b <= limit if a and b else None)
    return row(label, dist(ours), dist(ref), ratio(a, b), target, judged)


def paired_ci(ratios: list[float], resamples: int = 2000) -> tuple[float, float, float]:
    """Median of paired ratios and its 95 % bootstrap interval (seeded: the report is stable)."""
    rng = random.Random(0)
    medians = sorted(
        statistics.median(rng.choices(ratios, k=len(ratios))) for _ in range(resamples)
    )
    low, high = medians[int(0.025 * resamples)], medians[int(0.975 * resamples) - 1]
    return statistics.median(ratios), low, high


NOT_SLOWER = 1.05
"""The paired rule's margin: the 95 % interval's upper end of the paired ratios' median."""


def not_slower_row(
    label: str, ours: list[float], ref: list[float], unit: str = "s", scale: float = 1.0
) -> str:
    """ "Not slower": runs paired in time (ours_i / ref_i); passes when the upper end of the
    95 % interval of the paired ratios' median is <= 1.05 (RULES: a fixed margin)."""
    ratio, low, high = paired_ci([a / b for a, b in zip(ours, ref, strict=True) if b])
    return row(
        label,
        dist(list(ours), unit, scale),
        dist(list(ref), unit, scale),
        f"{ratio:.3f} (95 % CI {low:.3f}-{high:.3f})",
        f"not slower: 95 % CI upper end <= {NOT_SLOWER}",
        verdict(high <= NOT_SLOWER),
    )


def not_measured(figure: str, data: dict[str, Any] | None) -> str:
    """A row for a figure that failed or was not run."""
    reason = "not run" if data is None else data.get("error", "?").splitlines()[0]
    return row(figure, "not measured", "-", "-", "-", f"not measured: {reason}")


def memory_row(label: str, d: dict[str, Any], reference: str = "`pickle.load`: ") -> str:
    """Memory 3 loading processes add, ours vs plain, against one copy of the data."""
    added = {
        side: [a - b for a, b in zip(d[f"pss3_{side}"], d["pss3_none"], strict=False)]
        for side in ("ours", "plain")
    }
    ours = med(added["ours"])
    copies = None if ours is None else ours / d["mib"]
    return row(
        label,
        dist(added["ours"], "MiB", 1, 0) + (f" = {copies:.2f} copies" if copies else ""),
        reference + dist(added["plain"], "MiB", 1, 0),
        ratio(ours, med(added["plain"])),
        "<= 1.1 copies of the data",
        verdict(copies <= 1.1 if copies is not None else None),
    )


def misses(rows: list[str]) -> list[str]:
    """One line per MISS row, read from its cells: what missed, by how much, and for a paired
    row whether its median or only its interval is beyond the margin."""
    found = []
    for row in rows:
        if "**MISS**" not in row:
            continue
        cells = [c.strip() for c in row.strip("|").split("|")]
        label, ratio, target = cells[0], cells[3], cells[4]
        paired = re.fullmatch(r"([\d.]+) \(95 % CI ([\d.]+)-([\d.]+)\)", ratio)
        if paired and float(paired[1]) <= NOT_SLOWER:
            why = (
                f"the paired median {paired[1]} is within {NOT_SLOWER}; the interval's upper end "
                f"{paired[3]} is not (too few or too noisy pairs to show it is not slower)"
            )
        elif paired:
            why = f"the paired median {paired[1]} itself is above {NOT_SLOWER}: slower"
        else:
            why = f"{ratio} against the target {target}"
        found.append(f"{label}: {why}.")
    return found
