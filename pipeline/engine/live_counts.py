"""Documents through each stage while a pass runs: progress before the first unit is written.

A unit is written only when every stage of its pass is done with it (minutes for a large unit
on a loaded machine), but the reader hands stages a unit in batches. Each worker adds the rows
of every batch a stage finishes to one named Ray actor (fire and forget, a few bytes per
batch); the driver's progress heartbeat reads the totals: ``normalize 34,487, langid 20,102,
quality 3,112``. No actor (a stage run without the runner, or without Ray): nothing happens.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

ACTOR_NAME = "xcurate-stage-counts"


class StageCounts:
    """Rows per stage in the current pass (``reset`` at the start of each pass)."""

    def __init__(self):
        self.counts: Dict[str, int] = {}

    def add(self, stage: str, rows: int) -> None:
        self.counts[stage] = self.counts.get(stage, 0) + rows

    def reset(self) -> None:
        self.counts = {}

    def snapshot(self) -> Dict[str, int]:
        return dict(self.counts)


def start_counter():
    """The run's counter actor (driver side). It lives as long as the caller holds the handle:
    hold it for the whole run, and ``reset`` it at the start of each pass."""
    import ray
    return ray.remote(num_cpus=0)(StageCounts).options(name=ACTOR_NAME, get_if_exists=True).remote()


def reset(actor) -> None:
    import ray
    ray.get(actor.reset.remote())


def count_rows(stage: str, rows: int) -> None:
    """Worker side: add ``rows`` finished by ``stage``; never raises, never waits.

    The actor is looked up on every call (one GCS request, small beside a batch of documents):
    a handle kept from an earlier run would point at an actor that is gone, and calls on it are
    lost without an error."""
    try:
        import ray
        if ray.is_initialized():
            ray.get_actor(ACTOR_NAME).add.remote(stage, rows)
    except Exception:  # noqa: BLE001 - no run is counting (ValueError), or progress failed: never fail a batch
        pass


def counts_text(actor, stages: Sequence[str], timeout_s: float = 2.0) -> str:
    """``docs through normalize 34,487, langid 20,102`` for the stages of a pass ('' before any)."""
    import ray
    try:
        counts: Optional[Dict[str, int]] = ray.get(actor.snapshot.remote(), timeout=timeout_s)
    except Exception:  # noqa: BLE001 - a slow or lost counter only costs the detail
        return ""
    if not counts:
        return ""
    return "docs through " + ", ".join(f"{s} {counts.get(s, 0):,}" for s in stages)
