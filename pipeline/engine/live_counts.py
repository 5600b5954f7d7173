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


def start_counter(attempts: int = 3):
    """The run's counter actor (driver side), or None when none can be had: progress detail is
    best-effort and never fails a run. It lives as long as the caller holds the handle: hold it
    for the whole run, and ``reset`` it at the start of each pass.

    ``get_if_exists`` can return the counter of an earlier run in the same Ray session while Ray
    is destroying it (its last handle was just dropped): calls on it fail, so it is tried with a
    ``reset`` and asked for again once it is gone."""
    import time

    import ray
    for attempt in range(attempts):
        try:
            actor = ray.remote(num_cpus=0)(StageCounts).options(name=ACTOR_NAME, get_if_exists=True).remote()
            ray.get(actor.reset.remote(), timeout=30)
            return actor
        except Exception:  # noqa: BLE001 - a dying counter of an earlier run, or no room for one
            time.sleep(0.5 * (attempt + 1))
    return None


def reset(actor) -> None:
    """Start a pass at zero; a lost counter only costs the detail."""
    if actor is None:
        return
    import ray
    try:
        ray.get(actor.reset.remote(), timeout=30)
    except Exception:  # noqa: BLE001
        pass


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
    if actor is None:
        return ""
    import ray
    try:
        counts: Optional[Dict[str, int]] = ray.get(actor.snapshot.remote(), timeout=timeout_s)
    except Exception:  # noqa: BLE001 - a slow or lost counter only costs the detail
        return ""
    if not counts:
        return ""
    return "docs through " + ", ".join(f"{s} {counts.get(s, 0):,}" for s in stages)
