"""Ray bootstrap and resource planning: the one place that starts or joins a Ray cluster."""
from __future__ import annotations

import os
from typing import Dict, List, Optional

from xcurate.engine.config import LoadedConfig, ResolvedStage


def init_ray(address: Optional[str] = None, cfg: Optional[LoadedConfig] = None):
    """Connect to ``address`` / ``ray.address`` / $RAY_ADDRESS, else start an embedded local Ray."""
    import ray
    if ray.is_initialized():
        return ray
    address = address or (cfg.model.ray.address if cfg else None) or os.environ.get("RAY_ADDRESS")
    if address:
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=True)
    else:
        # address="local": always an embedded Ray of our own, never one found on the machine.
        ray.init(address="local", num_cpus=cfg.model.ray.num_cpus if cfg else None, include_dashboard=False,
                 ignore_reinit_error=True, log_to_driver=True)
    return ray


def data_context(cfg: LoadedConfig):
    from ray.data import DataContext
    ctx = DataContext.get_current()
    # Units (≤ unit_mb of text) must stay whole blocks; raise the split threshold well above them.
    ctx.target_max_block_size = max(ctx.target_max_block_size or 0, int(cfg.output.unit_mb * 4) << 20)
    ctx.enable_progress_bars = cfg.model.ray.progress_bars
    return ctx


def fit_actor_cpus(pools: List[Dict[str, float]], cpus: float) -> None:
    """Scale the CPU reservations of actor pools (dicts with num_cpus, size) so one CPU stays free.

    Actor pools hold their CPUs for the whole run; when they hold them all, Ray Data cannot
    schedule the read/write tasks that feed and drain them and the run stalls (seen on 2-CPU
    machines). The reservation is only a scheduling share: an actor still uses what it needs.
    """
    budget = max(cpus - 1.0, 0.5)
    held = sum(p["num_cpus"] * p["size"] for p in pools)
    if held > budget:
        for p in pools:
            p["num_cpus"] = round(max(0.05, p["num_cpus"] * budget / held), 3)


def actor_pools(streaming: List[ResolvedStage], cpus: int, gpus: int = 0) -> Dict[str, Dict[str, float]]:
    pools = {}
    for st in streaming:
        if st.cls.uses_model:
            res = st.resources
            size = res.concurrency or max(1, min(cpus, int(cpus // max(res.num_cpus, 1e-9))))
            num_gpus = res.num_gpus
            if st.cfg.resources is None and getattr(st.cls, "gpu_capable", False) and gpus >= 1:
                num_gpus, size = 1.0, min(size, gpus)
            pools[st.name] = {"num_cpus": res.num_cpus, "size": size, "num_gpus": num_gpus}
    fit_actor_cpus(list(pools.values()), cpus)
    return pools
