"""Allocation policies of ``xcurate mix`` against hand-computed examples and a brute-force grid."""
import itertools
import math

import numpy as np
import pytest

from xcurate.errors import UserError
from xcurate.mix.policies import (CurveFit, explicit_policy, fit_curve, optimize_allocation, objective,
                                   rehydration_weight, scaling_law_policy, temperature_policy, unimax_policy)

AVAIL = {"en": 1000.0, "de": 300.0, "sw": 50.0, "yo": 10.0}


def test_temperature_alpha_one_is_natural_proportions():
    planned, notes = temperature_policy(AVAIL, total=680.0, alpha=1.0)
    total_avail = sum(AVAIL.values())
    for lang, n in AVAIL.items():
        assert planned[lang] == pytest.approx(680.0 * n / total_avail)
    assert notes == []


def test_temperature_alpha_to_zero_is_uniform():
    planned, _ = temperature_policy(AVAIL, total=40.0, alpha=1e-9)
    assert all(v == pytest.approx(10.0, rel=1e-6) for v in planned.values())


def test_temperature_hand_computed_alpha_half():
    avail = {"a": 400.0, "b": 100.0}  # sqrt: 20 vs 10 → 2/3 and 1/3
    planned, _ = temperature_policy(avail, total=300.0, alpha=0.5)
    assert planned == pytest.approx({"a": 200.0, "b": 100.0})


def test_temperature_over_cap_names_languages_and_missing_tokens():
    with pytest.raises(UserError) as e:
        temperature_policy(AVAIL, total=1000.0, alpha=0.0, max_epochs=2)  # 250 each
    msg = str(e.value)
    # yo: wants 250, cap 20 → missing 230; sw: wants 250, cap 100 → missing 150
    assert "yo" in msg and "sw" in msg and "230 tokens" in msg and "150 tokens" in msg
    assert "en:" not in msg and "de:" not in msg  # they fit under the cap
    assert "380 tokens in all" in msg


def test_fill_cap_and_redistribute():
    capped, notes = temperature_policy(AVAIL, total=1000.0, alpha=0.0, max_epochs=2, fill="cap")
    assert capped == pytest.approx({"en": 250, "de": 250, "sw": 100, "yo": 20})
    assert any("yo" in n for n in notes)
    redis, _ = temperature_policy(AVAIL, total=1000.0, alpha=0.0, max_epochs=2, fill="redistribute")
    # 380 tokens of excess split evenly between en and de (equal uniform weights) → 440 each
    assert redis == pytest.approx({"en": 440, "de": 440, "sw": 100, "yo": 20})
    assert sum(redis.values()) == pytest.approx(1000.0)


def test_redistribute_impossible_total_is_an_error():
    with pytest.raises(UserError, match="missing"):
        temperature_policy(AVAIL, total=5000.0, alpha=0.3, max_epochs=2, fill="redistribute")


def test_unimax_published_algorithm_by_hand():
    # N=2, B=1000. Ascending: yo(10) sw(50) de(300) en(1000).
    # yo: 1000/4=250 > 20 → 20; left 980. sw: 980/3=326.7 > 100 → 100; left 880.
    # de: 880/2=440 ≤ 600 → 440; left 440. en: 440/1 → 440.
    planned, notes = unimax_policy(AVAIL, total=1000.0, max_epochs=2)
    assert planned == pytest.approx({"yo": 20, "sw": 100, "de": 440, "en": 440})
    assert notes == []


def test_unimax_uniform_when_nothing_is_capped():
    planned, _ = unimax_policy(AVAIL, total=40.0, max_epochs=4)
    assert planned == pytest.approx({l: 10.0 for l in AVAIL})


def test_unimax_budget_beyond_all_caps():
    with pytest.raises(UserError, match="missing"):
        unimax_policy(AVAIL, total=10_000.0, max_epochs=1)
    planned, notes = unimax_policy(AVAIL, total=10_000.0, max_epochs=1, fill="cap")
    assert planned == pytest.approx(AVAIL) and "unused" in notes[0]


def test_explicit_budgets():
    planned, _ = explicit_policy({"en": 500, "yo": 30}, AVAIL, max_epochs=4)
    assert planned == {"en": 500.0, "de": 0.0, "sw": 0.0, "yo": 30.0}
    with pytest.raises(UserError) as e:
        explicit_policy({"en": 500, "yo": 55}, AVAIL, max_epochs=4)
    assert "yo" in str(e.value) and "15 tokens" in str(e.value)
    with pytest.raises(UserError, match="no data: xx"):
        explicit_policy({"xx": 5}, AVAIL)


def _curve(form, params):
    return CurveFit(form, params, 1.0, 0.0, 3)


def test_fit_log_and_power_recover_parameters():
    x = np.array([1e6, 3e6, 1e7, 3e7, 1e8])
    y_log = 0.05 * np.log(x) - 0.3
    fit = fit_curve(np.c_[x, y_log], "log")
    assert fit.params["a"] == pytest.approx(0.05, rel=1e-6) and fit.params["b"] == pytest.approx(-0.3, abs=1e-6)
    assert fit.r2 == pytest.approx(1.0) and fit.rmse < 1e-9
    y_pow = 0.9 - 40.0 * x ** -0.35
    fit = fit_curve(np.c_[x, y_pow], "power")
    assert fit.params["c"] == pytest.approx(0.9, rel=1e-4)
    assert fit.params["b"] == pytest.approx(0.35, rel=1e-3)
    assert fit.params["a"] == pytest.approx(40.0, rel=1e-2)
    with pytest.raises(UserError, match="at least 3"):
        fit_curve([[1, 0.1], [2, 0.2]], "power")


@pytest.mark.parametrize("form", ["log", "power"])
def test_optimizer_matches_brute_force_grid(form):
    if form == "log":
        fits = {"a": _curve("log", {"a": 1.0, "b": 0.0}), "b": _curve("log", {"a": 2.0, "b": 0.0}),
                "c": _curve("log", {"a": 0.5, "b": 1.0})}
    else:
        fits = {"a": _curve("power", {"c": 1.0, "a": 3.0, "b": 0.5}),
                "b": _curve("power", {"c": 1.0, "a": 8.0, "b": 0.8}),
                "c": _curve("power", {"c": 1.0, "a": 1.0, "b": 0.3})}
    weights = {"a": 1.0, "b": 1.0, "c": 2.0}
    caps = {"a": 120.0, "b": 45.0, "c": 200.0}  # b's cap binds in the log case
    total = 200
    x = optimize_allocation(fits, weights, total, caps, floors={l: 1.0 for l in fits})
    assert sum(x.values()) == pytest.approx(total)
    assert all(1.0 - 1e-9 <= x[l] <= caps[l] + 1e-9 for l in fits)
    best, best_x = -math.inf, None
    for xa, xb in itertools.product(range(1, total), repeat=2):
        xc = total - xa - xb
        if xc < 1 or xa > caps["a"] or xb > caps["b"] or xc > caps["c"]:
            continue
        val = objective(fits, weights, {"a": xa, "b": xb, "c": xc})
        if val > best:
            best, best_x = val, {"a": xa, "b": xb, "c": xc}
    assert objective(fits, weights, x) >= best - 1e-9
    assert all(abs(x[l] - best_x[l]) <= 1.5 for l in fits)


def test_log_optimum_closed_form():
    # Uncapped log curves: x_l ∝ w_l·a_l.
    fits = {"a": _curve("log", {"a": 1.0, "b": 0.0}), "b": _curve("log", {"a": 3.0, "b": 5.0})}
    x = optimize_allocation(fits, {"a": 1.0, "b": 1.0}, 400.0, {"a": 1e9, "b": 1e9})
    assert x == pytest.approx({"a": 100.0, "b": 300.0}, rel=1e-9)


def test_scaling_law_policy_reports_fits_and_respects_caps():
    curves = {"en": {"points": [[100, 0.40], [200, 0.47], [400, 0.54], [800, 0.61]]},
              "sw": {"points": [[5, 0.10], [10, 0.25], [20, 0.40]], "weight": 2.0}}
    avail = {"en": 1000.0, "sw": 50.0}
    planned, notes, report = scaling_law_policy(curves, avail, total=600.0, max_epochs=2)
    assert planned["sw"] == pytest.approx(100.0)  # steep curve, weight 2 → at its cap (2 × 50)
    assert planned["en"] == pytest.approx(500.0)
    assert report["en"]["r2"] > 0.99 and set(report["en"]["params"]) == {"a", "b"}
    assert any("objective" in n for n in notes)
    with pytest.raises(UserError, match="missing"):
        scaling_law_policy(curves, avail, total=5000.0, max_epochs=2)


def test_rehydration_table():
    table = [[1, 1], [2, 2], [3, 3], [5, 5], [100, 8], [1000, 1]]
    got = rehydration_weight(np.array([0, 1, 2, 3, 4, 5, 99, 100, 999, 1000, 5000]), table)
    assert got.tolist() == [1, 1, 2, 3, 3, 5, 5, 8, 8, 1, 1]
    with pytest.raises(UserError):
        rehydration_weight(np.array([1]), [[2, 1]])
