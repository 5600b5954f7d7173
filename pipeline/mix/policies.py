"""Token-budget allocation policies for ``xcurate mix`` (pure numpy/scipy, no Ray, no I/O).

Every policy maps per-language *available* tokens (what one pass over the data gives) to
*planned* tokens. ``max_epochs`` caps each language at ``max_epochs × available``; what a
policy does when a request exceeds that cap is the ``fill`` rule:

* ``error`` (default): raise a :class:`~xcurate.cli.UserError` naming each language and
  the number of tokens it is short;
* ``cap``: stop those languages at their cap (the total shrinks, the plan says by how much);
* ``redistribute``: stop them at their cap and hand the excess to the other languages in
  proportion to what the policy gave them (the total is kept).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from xcurate.errors import UserError

FILL_RULES = ("error", "cap", "redistribute")
CURVE_FORMS = ("log", "power")


def human_tokens(n: float) -> str:
    n = float(n)
    for unit, div in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= div:
            return f"{n / div:.3g}{unit}"
    return f"{n:.0f}"


def caps_for(available: Mapping[str, float], max_epochs: Optional[float]) -> Dict[str, float]:
    if max_epochs is None:
        return {lang: math.inf for lang in available}
    return {lang: float(max_epochs) * float(n) for lang, n in available.items()}


def _shortfall_message(over: Dict[str, Tuple[float, float]], max_epochs, what: str) -> str:
    parts = [f"{lang}: wants {human_tokens(want)} but the cap is {human_tokens(cap)} "
             f"(missing {human_tokens(want - cap)} = {want - cap:.0f} tokens)"
             for lang, (want, cap) in sorted(over.items(), key=lambda kv: kv[1][1] - kv[1][0])]
    missing = sum(want - cap for want, cap in over.values())
    return (f"{what} is larger than max_epochs={max_epochs} allows for {len(over)} language(s), "
            f"missing {human_tokens(missing)} tokens in all: " + "; ".join(parts)
            + ". Lower the budget, raise max_epochs, add data, or set fill: cap | redistribute.")


def apply_fill(desired: Mapping[str, float], caps: Mapping[str, float], fill: str,
               max_epochs, what: str = "the budget") -> Tuple[Dict[str, float], List[str]]:
    """Enforce the per-language caps on ``desired`` according to the ``fill`` rule."""
    if fill not in FILL_RULES:
        raise UserError(f"fill must be one of {FILL_RULES}, got {fill!r}")
    over = {l: (float(x), caps[l]) for l, x in desired.items() if x > caps[l] * (1 + 1e-12)}
    if not over:
        return {l: float(x) for l, x in desired.items()}, []
    if fill == "error":
        raise UserError(_shortfall_message(over, max_epochs, what))
    notes = [f"{l}: capped at {human_tokens(c)} ({human_tokens(w - c)} short of the request)"
             for l, (w, c) in sorted(over.items())]
    if fill == "cap":
        return {l: min(float(x), caps[l]) for l, x in desired.items()}, notes
    return _redistribute(desired, caps, max_epochs, what), notes + [
        "excess redistributed to uncapped languages in proportion to their allocation"]


def _redistribute(desired: Mapping[str, float], caps: Mapping[str, float], max_epochs,
                  what: str) -> Dict[str, float]:
    total = float(sum(desired.values()))
    fixed: Dict[str, float] = {}
    while True:
        free = {l: float(x) for l, x in desired.items() if l not in fixed}
        left = total - sum(fixed.values())
        weight = sum(free.values())
        if not free or weight <= 0:
            if left > 1e-6 * max(total, 1):
                raise UserError(
                    f"{what} ({human_tokens(total)}) is larger than all languages together allow "
                    f"at max_epochs={max_epochs}: missing {human_tokens(left)} ({left:.0f}) tokens")
            return {**{l: 0.0 for l in free}, **fixed}
        scaled = {l: x * left / weight for l, x in free.items()}
        newly = {l: caps[l] for l, x in scaled.items() if x > caps[l]}
        if not newly:
            return {**scaled, **fixed}
        fixed.update(newly)


def check_total_feasible(total: float, available: Mapping[str, float], max_epochs) -> None:
    room = sum(caps_for(available, max_epochs).values())
    if total > room * (1 + 1e-12):
        raise UserError(
            f"total budget {human_tokens(total)} is larger than all {len(available)} languages allow "
            f"at max_epochs={max_epochs} ({human_tokens(room)}): missing {human_tokens(total - room)} "
            f"({total - room:.0f}) tokens")


# --- policies ---------------------------------------------------------------------------------

def explicit_policy(budgets: Mapping[str, float], available: Mapping[str, float],
                    max_epochs=None, fill: str = "error") -> Tuple[Dict[str, float], List[str]]:
    """The user says how many tokens each language gets."""
    missing = sorted(l for l in budgets if not available.get(l))
    if missing:
        raise UserError(f"explicit budget names language(s) with no data: {', '.join(missing)}")
    caps = caps_for({l: available[l] for l in budgets}, max_epochs)
    caps.update({l: 0.0 for l in available if l not in budgets})
    desired = {l: float(budgets.get(l, 0.0)) for l in available}
    return apply_fill(desired, caps, fill, max_epochs, "the explicit budget")


def temperature_policy(available: Mapping[str, float], total: float, alpha: float,
                       max_epochs=None, fill: str = "error") -> Tuple[Dict[str, float], List[str]]:
    """p_l ∝ n_l^α (α = 1: natural proportions; α → 0: uniform; mT5/XLM-R use 0.3)."""
    if alpha < 0:
        raise UserError(f"temperature alpha must be >= 0, got {alpha}")
    langs = list(available)
    n = np.array([float(available[l]) for l in langs])
    logw = alpha * np.log(np.where(n > 0, n, 1.0))
    w = np.where(n > 0, np.exp(logw - logw.max()), 0.0)  # shift: n^α overflows nothing
    p = w / w.sum()
    desired = {l: float(total * pi) for l, pi in zip(langs, p)}
    if fill == "redistribute":
        check_total_feasible(total, available, max_epochs)
    return apply_fill(desired, caps_for(available, max_epochs), fill, max_epochs,
                      f"the temperature budget (alpha={alpha})")


def unimax_policy(available: Mapping[str, float], total: float, max_epochs: float,
                  fill: str = "error") -> Tuple[Dict[str, float], List[str]]:
    """UniMax (Chung et al. 2023, Algorithm 1).

    Languages are visited from the smallest to the largest; each gets an equal share of the
    budget still left (``B / remaining languages``), but at most ``N × c_l``; what it does not
    take stays in the pool for the larger languages.
    """
    if max_epochs is None or max_epochs <= 0:
        raise UserError("unimax needs max_epochs (N) > 0")
    order = sorted(available, key=lambda l: (available[l], l))
    budget = float(total)
    planned: Dict[str, float] = {}
    for i, lang in enumerate(order):
        share = budget / (len(order) - i)
        planned[lang] = min(share, float(max_epochs) * float(available[lang]))
        budget -= planned[lang]
    notes: List[str] = []
    if budget > 1e-9 * max(total, 1):
        if fill != "cap":
            check_total_feasible(total, available, max_epochs)
        notes.append(f"{human_tokens(budget)} tokens of the budget left unused: every language is at its cap")
    return planned, notes


# --- scaling-law allocation ------------------------------------------------------------------

@dataclass
class CurveFit:
    """A fitted per-language curve f(x) of score vs training tokens x.

    ``log``:   f(x) = a·ln(x) + b
    ``power``: f(x) = c − a·x^(−b)   (saturating power law, a ≥ 0, b > 0)
    """
    form: str
    params: Dict[str, float]
    r2: float
    rmse: float
    n_points: int
    warnings: List[str] = field(default_factory=list)

    def __call__(self, x):
        x = np.asarray(x, dtype=float)
        p = self.params
        if self.form == "log":
            return p["a"] * np.log(x) + p["b"]
        return p["c"] - p["a"] * np.power(x, -p["b"])

    def inverse_marginal(self, lam: float, weight: float) -> float:
        """The x where weight·f'(x) = lam (f' is decreasing: both forms are concave)."""
        p = self.params
        if self.form == "log":
            return weight * p["a"] / lam
        return (weight * p["a"] * p["b"] / lam) ** (1.0 / (p["b"] + 1.0))

    @property
    def increasing(self) -> bool:
        p = self.params
        return p["a"] > 0 and (self.form == "log" or p["b"] > 0)

    def to_dict(self) -> dict:
        return asdict(self)


def fit_curve(points: Sequence[Sequence[float]], form: str, name: str = "") -> CurveFit:
    """Fit ``form`` to (tokens, score) points with scipy's curve_fit."""
    from scipy.optimize import curve_fit

    if form not in CURVE_FORMS:
        raise UserError(f"{name}: curve form must be one of {CURVE_FORMS}, got {form!r}")
    pts = np.asarray(points, dtype=float)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise UserError(f"{name}: scaling-law points must be [tokens, score] pairs")
    x, y = pts[:, 0], pts[:, 1]
    need = 2 if form == "log" else 3
    if len(np.unique(x)) < need:
        raise UserError(f"{name}: the {form} curve needs at least {need} distinct token counts, got {len(np.unique(x))}")
    if np.any(x <= 0):
        raise UserError(f"{name}: token counts in scaling-law points must be > 0")
    # Fit on x / x0 (geometric mean) for conditioning, then express the parameters in raw tokens.
    x0 = float(np.exp(np.mean(np.log(x))))
    xs = x / x0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if form == "log":
            (a, b), _ = curve_fit(lambda t, a, b: a * np.log(t) + b, xs, y, p0=(1.0, float(np.mean(y))))
            params = {"a": float(a), "b": float(b - a * math.log(x0))}
        else:
            span = float(np.ptp(y)) or 1.0
            p0 = (float(y.max()) + span, span, 0.5)
            try:
                (c, a, b), _ = curve_fit(lambda t, c, a, b: c - a * np.power(t, -b), xs, y, p0=p0,
                                         bounds=([-np.inf, 0.0, 1e-6], [np.inf, np.inf, 10.0]),
                                         maxfev=20000)
            except RuntimeError as e:
                raise UserError(f"{name}: the power-law curve could not be fitted: {e}") from e
            params = {"c": float(c), "a": float(a * x0 ** b), "b": float(b)}
    fit = CurveFit(form, params, 0.0, 0.0, len(x))
    pred = fit(x)
    ss_res = float(np.sum((y - pred) ** 2))
    ss_tot = float(np.sum((y - y.mean()) ** 2))
    fit.r2 = 1.0 - ss_res / ss_tot if ss_tot > 0 else (1.0 if ss_res == 0 else 0.0)
    fit.rmse = math.sqrt(ss_res / len(x))
    if not fit.increasing:
        fit.warnings.append("score does not increase with tokens: the optimizer gives this language its minimum")
    return fit


def optimize_allocation(fits: Mapping[str, CurveFit], weights: Mapping[str, float], total: float,
                        caps: Mapping[str, float], floors: Optional[Mapping[str, float]] = None
                        ) -> Dict[str, float]:
    """maximise Σ w_l·f_l(x_l)  s.t.  Σ x_l = total,  floor_l ≤ x_l ≤ cap_l.

    Both curve forms are concave, so the KKT conditions give w_l·f_l'(x_l) = λ for every
    language strictly between its bounds; x_l(λ) is decreasing in λ and a bisection on log λ
    finds the λ whose allocation sums to ``total`` (water-filling).
    """
    langs = list(fits)
    floors = {l: float((floors or {}).get(l, 1.0)) for l in langs}
    lo_sum = sum(floors.values())
    hi_sum = sum(caps[l] for l in langs)
    if total < lo_sum - 1e-9 or total > hi_sum * (1 + 1e-12):
        raise UserError(f"scaling-law budget {human_tokens(total)} is outside what the floors and caps allow "
                        f"[{human_tokens(lo_sum)}, {human_tokens(hi_sum)}]")
    active = [l for l in langs if fits[l].increasing and weights.get(l, 1.0) > 0]

    def alloc(log_lam: float) -> Dict[str, float]:
        lam = math.exp(log_lam)
        out = {l: floors[l] for l in langs}
        for l in active:
            x = fits[l].inverse_marginal(lam, float(weights.get(l, 1.0)))
            out[l] = min(max(x, floors[l]), caps[l])
        return out

    lo, hi = -745.0, 709.0
    for _ in range(300):
        mid = 0.5 * (lo + hi)
        if sum(alloc(mid).values()) > total:
            lo = mid
        else:
            hi = mid
    x = alloc(hi)
    short = total - sum(x.values())
    if short > 0:  # flat languages (or every active one at its cap) absorb what is left
        for l in sorted(langs, key=lambda l: l in active):
            give = min(short, caps[l] - x[l])
            x[l] += give
            short -= give
    return x


def objective(fits: Mapping[str, CurveFit], weights: Mapping[str, float], x: Mapping[str, float]) -> float:
    return float(sum(weights.get(l, 1.0) * float(fits[l](x[l])) for l in fits))


def scaling_law_policy(curves: Mapping[str, dict], available: Mapping[str, float], total: float,
                       max_epochs=None, default_form: str = "log"
                       ) -> Tuple[Dict[str, float], List[str], Dict[str, dict]]:
    """Fit each language's curve, then split ``total`` to maximise the weighted sum of scores."""
    fits = {l: fit_curve(c["points"], c.get("form", default_form), name=l) for l, c in curves.items()}
    weights = {l: float(c.get("weight", 1.0)) for l, c in curves.items()}
    floors = {l: float(c.get("min_tokens", 1.0)) for l, c in curves.items()}
    caps = caps_for({l: available[l] for l in curves}, max_epochs)
    check_total_feasible(total, {l: available[l] for l in curves}, max_epochs)
    x = optimize_allocation(fits, weights, total, caps, floors)
    planned = {l: x.get(l, 0.0) for l in available}
    report = {l: {**fits[l].to_dict(), "weight": weights[l], "predicted_score": float(fits[l](max(x[l], 1e-9)))}
              for l in fits}
    notes = [f"{l}: {w}" for l, f in fits.items() for w in f.warnings]
    notes.append(f"objective Σ w·f(x) = {objective(fits, weights, x):.6g}")
    return planned, notes, report


def rehydration_weight(cluster_size: np.ndarray, table: Sequence[Sequence[int]]) -> np.ndarray:
    """Copies per document from its duplicate-cluster size (FineWeb-2 rehydration).

    ``table`` is a list of ``[min_cluster_size, copies]`` rows sorted by size; a document gets
    the copies of the last row whose ``min_cluster_size`` it reaches.
    """
    sizes = np.asarray([int(r[0]) for r in table])
    copies = np.asarray([int(r[1]) for r in table])
    if np.any(np.diff(sizes) <= 0) or sizes[0] > 1 or np.any(copies < 1):
        raise UserError("rehydration table must be [[min_size, copies], ...] with increasing sizes "
                        "starting at 1 and copies >= 1")
    cs = np.maximum(np.asarray(cluster_size, dtype=np.int64), 1)
    return copies[np.searchsorted(sizes, cs, side="right") - 1]
