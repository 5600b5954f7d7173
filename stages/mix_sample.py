"""``mix_sample``: plan a mixture over the counted corpus and sample it (a global stage).

The work is ``xcurate.mix.phases.plan_and_sample``: every document gets ``mix_copies`` (how many
times the mixture uses it); documents not sampled are dropped with reason ``not_sampled``.
"""
from __future__ import annotations

from pydantic import Field

from xcurate.engine.registry import register
from xcurate.engine.stage import GlobalStage, StageParams
from xcurate.mix.config import MixConfig
from xcurate.mix.phases import plan_and_sample
from xcurate.mix.sample import COPIES


class MixSampleParams(StageParams):
    mix: MixConfig = Field(..., description="the mixture config (a `xcurate mix` CONFIG, see configs/mix.yaml); "
                           "set by `xcurate mix`")
    tokenizer: dict = Field(..., description="the resolved tokenizer (kind, name, fingerprint, pattern), recorded in the plan")
    plan_path: str = Field(..., description="where plan.json goes (the mix OUTDIR)")
    dry_run: bool = Field(False, description="plan only: every document is dropped with reason dry_run")


@register
class MixSample(GlobalStage):
    """Adds ``mix_copies``; drops documents the mixture does not use (``not_sampled``)."""

    name = "mix_sample"
    reads = ("tokens", "language", "mix_source", "dup_cluster_size")
    writes = (COPIES,)
    Params = MixSampleParams

    def run(self, unit_files, out_dir, work_dir, stage_name, resources) -> None:
        p = self.params
        plan_and_sample(p.mix, p.tokenizer, p.plan_path, p.dry_run, list(unit_files), out_dir, stage_name)
