"""The stage contract.

A stage is a small class over a plain Arrow batch. It declares the columns it reads and
writes (``input_columns()`` / ``output_columns()``, checked against the input and the earlier
stages before Ray starts: :func:`unmet_inputs`) and the resources it needs, loads models once
in ``setup()`` and knows nothing of the runner (and nothing of Ray). The runner decides how
to execute it (:meth:`Stage.kind`): stateless stages run as Ray Data tasks, stages with
``uses_model = True`` as actor pools (``setup`` runs once per actor).

``process`` returns a :class:`StageOutput`: the same rows, in the same order, with the
stage's columns added, plus one drop reason per row (``None`` = keep). A reason is a short
machine-readable string, ``"<filter>:<why>"`` where a stage has several filters.

Global stages (dedup) need the whole corpus; they subclass :class:`GlobalStage` and are
run by the runner between streaming segments (see ``xcurate.engine.runner``).
"""
from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass
from typing import ClassVar, Dict, Iterable, Iterator, List, Optional, Sequence, Tuple

import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field

from xcurate.schema import with_columns

__all__ = ["GlobalStage", "Resources", "Stage", "StageOutput", "StageParams", "gc_paused", "reasons_array",
           "unmet_inputs", "with_columns"]  # with_columns: re-exported for stages


@contextmanager
def gc_paused():
    """Python's cyclic garbage collector off while a batch is processed, then back to its previous state.

    Why: a batch allocates tens of thousands of small containers (tokens, memo entries, per-document
    lists) and every 700 of them start a collection that walks the young objects, now and then all of
    them; the quality stage spent 15-20% of a cold batch there (measured: 0.25 -> 0.20 s on 580 UD
    documents). Stages make no reference cycles worth collecting mid-batch: what they drop is freed by
    reference counting, and the collector runs as usual between batches.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class StageParams(BaseModel):
    """Base class of every stage's parameters (validated from the YAML config)."""

    model_config = ConfigDict(extra="forbid")


class Resources(BaseModel):
    model_config = ConfigDict(extra="forbid")

    num_cpus: float = Field(1.0, ge=0)
    num_gpus: float = Field(0.0, ge=0)
    # Actor-pool size for model stages; None = one actor per CPU the stage can get.
    concurrency: Optional[int] = Field(None, ge=1)


@dataclass
class StageOutput:
    table: pa.Table
    drop_reason: Optional[pa.Array] = None  # string array, one per row; null = kept
    # Counters per row (nested dicts of ints; None = nothing), summed into the manifest's `counts`.
    counts: Optional[Sequence[Optional[dict]]] = None

    @classmethod
    def keep_all(cls, table: pa.Table) -> "StageOutput":
        return cls(table, None)


class Stage:
    """Base class of every stage: per-batch (``process``) or global (``run``, see :class:`GlobalStage`).

    ``reads``/``writes`` declare the columns a stage needs and adds; where they depend on the
    parameters, override :meth:`input_columns` / :meth:`output_columns`. ``reads`` lists only what
    the stage cannot do without (a column it merely uses when present is not a read). ``validate``
    and ``run`` check them (:func:`unmet_inputs`) against the input and the earlier stages' writes
    before Ray starts.
    """

    name: ClassVar[str] = ""
    reads: ClassVar[Sequence[str]] = ("text",)
    writes: ClassVar[Sequence[str]] = ()
    uses_model: ClassVar[bool] = False
    is_global: ClassVar[bool] = False
    # A model stage that runs faster on a GPU: when the config gives no `resources` and the
    # cluster has GPUs, the runner gives each actor one GPU.
    gpu_capable: ClassVar[bool] = False
    Params: ClassVar[type[StageParams]] = StageParams
    default_resources: ClassVar[Resources] = Resources()

    def __init__(self, params: Optional[StageParams] = None):
        self.params = params if params is not None else self.Params()

    @classmethod
    def kind(cls) -> str:
        """How the runner executes it: ``task``, ``actor`` (model loaded once) or ``global``."""
        return "global" if cls.is_global else ("actor" if cls.uses_model else "task")

    def input_columns(self) -> Sequence[str]:
        """Columns this stage reads (with these parameters)."""
        return tuple(self.reads)

    def output_columns(self) -> Sequence[str]:
        """Columns this stage adds or replaces (with these parameters)."""
        return tuple(self.writes)

    def setup(self) -> None:
        """Load models or tables; called once per worker/actor before the first batch."""

    def process(self, table: pa.Table) -> StageOutput:  # pragma: no cover - abstract
        raise NotImplementedError

    def manifest_notes(self, languages: Dict[str, Dict[str, int]]) -> Optional[dict]:
        """What the stage says about the run as a whole, kept as ``notes`` of its manifest entry
        (``languages``: the manifest's documents/chars per language). Called without ``setup``."""
        return None

    def process_batch(self, table: pa.Table) -> StageOutput:
        """``process`` as the engine calls it: with the cyclic collector paused (``gc_paused``)."""
        with gc_paused():
            return self.process(table)

    # Convenience for tests and notebooks: run setup lazily and process one table.
    def __call__(self, table: pa.Table) -> StageOutput:
        if not getattr(self, "_ready", False):
            self.setup()
            self._ready = True
        return self.process_batch(table)


class GlobalStage(Stage):
    """A stage that needs the whole corpus (exact / near-duplicate removal).

    ``run`` gets the per-unit Parquet files of the previous segment (all rows, with the
    runner's bookkeeping columns, ``xcurate.schema.BOOKKEEPING``) and must write, for every
    input file, a file of the same name in ``out_dir`` holding the same rows in the same
    order, with the drop-stage / drop-reason columns set for the rows it drops (only rows not
    dropped earlier are eligible) and its output columns added. Writes are atomic; files
    already present in ``out_dir`` are complete (resume). It may use Ray (it runs on the
    driver and launches distributed work) but must never collect the corpus on the driver.
    """

    is_global: ClassVar[bool] = True

    def process(self, table: pa.Table) -> StageOutput:
        raise TypeError(f"{self.name} is a global stage: the runner calls run(), not process()")

    def run(self, unit_files: Sequence[str], out_dir: str, work_dir: str, stage_name: str,
            resources: Resources) -> None:  # pragma: no cover - abstract
        raise NotImplementedError


def unmet_inputs(stages: Sequence[Stage], input_columns: Iterable[str]) -> Iterator[Tuple[int, List[str], List[str]]]:
    """``(position, missing columns, columns available there)`` of every stage that reads a column
    which neither the input nor an earlier stage provides."""
    available = set(input_columns)
    for position, stage in enumerate(stages):
        missing = [c for c in stage.input_columns() if c not in available]
        if missing:
            yield position, missing, sorted(available)
        available.update(stage.output_columns())


def reasons_array(reasons: Sequence[Optional[str]]) -> pa.Array:
    return pa.array(reasons, type=pa.string())
