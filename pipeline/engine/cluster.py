"""Ray bootstrap and resource planning: the one place that starts or joins a Ray cluster, and that
sizes units and the CPU requests of tasks and actor pools so that they fit the cluster (one CPU too)."""
from __future__ import annotations

import logging
import os
import socket
import time
from typing import Dict, List, Optional

from xcurate.engine.config import LoadedConfig, RayConfig, ResolvedStage
from xcurate.errors import RunError

log = logging.getLogger(__name__)

_embedded_ray = False  # init_ray started the local Ray this process uses (stop_embedded_ray may end it)


def init_ray(address: Optional[str] = None, cfg: Optional[LoadedConfig] = None):
    """Connect to ``address`` / ``ray.address`` / $RAY_ADDRESS, else start an embedded local Ray."""
    global _embedded_ray
    import ray
    if ray.is_initialized():
        return ray
    address = address or (cfg.model.ray.address if cfg else None) or os.environ.get("RAY_ADDRESS")
    if address:
        timeout = cfg.model.ray.connect_timeout_s if cfg else RayConfig().connect_timeout_s
        log.info("connecting to the Ray cluster at %s", address)
        wait_reachable(address, timeout)
        ray.init(address=address, ignore_reinit_error=True, log_to_driver=True)
    else:
        # address="local": always an embedded Ray of our own, never one found on the machine.
        log.info("starting a local Ray (--address or $RAY_ADDRESS to join a cluster)")
        _embedded_ray = True
        try:
            ray.init(address="local", num_cpus=cfg.model.ray.num_cpus if cfg else None, include_dashboard=False,
                     ignore_reinit_error=True, log_to_driver=True)
        except Exception as e:  # Ray raises plain Exception when its local node does not come up
            raise RunError(f"could not start the embedded Ray: {str(e).splitlines()[0] if str(e) else type(e).__name__}"
                           "; is the machine overloaded or out of memory? Retry, or give --address") from None
    return ray


def stop_embedded_ray() -> None:
    """Stop the local Ray that ``init_ray`` started (seconds on a loaded machine: better before the
    run's last lines than after them, at interpreter exit); a Ray the caller started stays up."""
    global _embedded_ray
    import ray
    if _embedded_ray and ray.is_initialized():
        ray.shutdown()
    _embedded_ray = False


def wait_reachable(address: str, timeout_s: float) -> None:
    """Fail within ``timeout_s`` when nothing listens at a Ray address (ray.init would retry for many minutes)."""
    if address in ("auto", "local"):
        return
    hostport = address.split("://", 1)[-1].rstrip("/")
    host, _, port = hostport.rpartition(":")
    if not host or not port.isdigit():
        raise RunError(f"Ray address {address!r}: expected HOST:PORT or ray://HOST:PORT")
    deadline, error = time.monotonic() + timeout_s, None
    while True:
        left = deadline - time.monotonic()
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=max(0.1, min(left, 5.0))):
                return
        except OSError as e:
            error = e
        if left <= 1.0:
            break
        time.sleep(1.0)  # a head node that is still starting refuses connections for a moment
    raise RunError(f"cannot reach the Ray cluster at {address} within {timeout_s:g} s ({error}); "
                   "check --address / ray.address / $RAY_ADDRESS, or raise ray.connect_timeout_s")


def data_context(cfg: LoadedConfig):
    from ray.data import DataContext
    ctx = DataContext.get_current()
    # Units (≤ unit_mb of text) must stay whole blocks; raise the split threshold well above them.
    ctx.target_max_block_size = max(ctx.target_max_block_size or 0, int(cfg.output.unit_mb * 4) << 20)
    ctx.enable_progress_bars = cfg.model.ray.progress_bars
    return ctx


MIN_UNIT_MB = 2.0     # smaller units cost more per-unit overhead (files, tasks) than they win in balance
UNITS_PER_CPU = 4     # enough units per CPU that the last ones do not leave most CPUs idle


def plan_unit_bytes(input_bytes: int, cpus: float, unit_mb: float, min_unit_mb: float = MIN_UNIT_MB) -> int:
    """The unit size for ``input_bytes`` of input on ``cpus`` CPUs.

    At most ``output.unit_mb``; smaller when that gives fewer than ``UNITS_PER_CPU`` units per
    CPU (19.5 MB at unit_mb 32 was one unit: one busy CPU), but not below ``min_unit_mb``.
    """
    ceiling = int(unit_mb * (1 << 20))
    wanted = int(input_bytes // (UNITS_PER_CPU * max(cpus, 1)))
    return min(ceiling, max(int(min_unit_mb * (1 << 20)), wanted))


def task_cpus(cpus: float, has_actor_pools: bool) -> float:
    """CPUs each Ray Data task (read, stateless stage, write) requests.

    Beside actor pools a task asks for at most half the cluster, so that on one CPU the pools
    and one task feeding or draining them both fit (a whole-CPU task next to a pool on a
    1-CPU machine waited forever). The request is a scheduling share, not a limit.
    """
    return min(1.0, cpus / 2) if has_actor_pools else min(1.0, cpus)


def fit_actor_cpus(pools: List[Dict[str, float]], cpus: float) -> None:
    """Scale the CPU reservations of actor pools (dicts with num_cpus, size) to what tasks leave.

    Actor pools hold their CPUs for the whole run; when they hold them all, Ray Data cannot
    schedule the read/write tasks that feed and drain them and the run stalls. The pools share
    ``cpus - task_cpus(cpus, True)`` (one CPU on 2 CPUs, half a CPU on one). The reservation
    is only a scheduling share: an actor still uses what it needs.
    """
    budget = cpus - task_cpus(cpus, True)
    held = sum(p["num_cpus"] * p["size"] for p in pools)
    if held > budget:
        for p in pools:
            # round down: the pools together must never ask for more than the budget
            p["num_cpus"] = max(0.001, int(p["num_cpus"] * budget / held * 1000) / 1000)


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


class NodeDealer:
    """Deals short Ray tasks round-robin over the alive nodes with CPUs (soft affinity: a busy or lost node
    hands its task on). Left to Ray, even with best-effort SPREAD, short tasks packed onto the nodes whose
    workers were warm and left a node of a 3-node cluster idle."""

    def __init__(self):
        import ray
        self.nodes = sorted(n["NodeID"] for n in ray.nodes()
                            if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) > 0)
        self.dealt = 0

    def next_options(self) -> dict:
        """Ray task options placing the next task on the next node (none on a single node)."""
        if len(self.nodes) < 2:
            return {}
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
        node = self.nodes[self.dealt % len(self.nodes)]
        self.dealt += 1
        return {"scheduling_strategy": NodeAffinitySchedulingStrategy(node, soft=True)}
