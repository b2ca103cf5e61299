"""Customer lifetime value: will a customer buy again, how often, how much, and what it is worth.

Two published models for non-contractual buying, where a supplier never learns that a customer
has left, only that it has stopped ordering:

* **BG/NBD** (Fader, Hardie & Lee 2005, "Counting your customers the easy way: an alternative
  to the Pareto/NBD model", *Marketing Science* 24(2), 275-284): while active, a customer
  orders at a Poisson rate (gamma-distributed across customers, ``r``, ``alpha``); after each
  order it may become inactive with a probability (beta-distributed, ``a``, ``b``).
  **MBG/NBD** (Batislam, Denizel & Filiztekin 2007, *International Journal of Research in
  Marketing* 24(3), 201-209) lets a customer drop out right after its first order too, which
  gives a one-order customer a P(alive) below 1 (the BG/NBD's is always 1).
* **Gamma-Gamma** (Fader, Hardie & Lee 2005, "RFM and CLV: using iso-value curves for customer
  base analysis", *Journal of Marketing Research* 42(4); Fader & Hardie 2013, "The Gamma-Gamma
  model of monetary value"): the value of a customer's orders varies around its own mean,
  which varies across customers (``p``, ``q``, ``gamma``).

This is the one place where xlcrm writes a model itself: the maintained implementation
(pymc-marketing) needs PyMC, which does not install on Python 3.11 nor in xlwings Lite, and
``lifetimes`` is unmaintained since 2020. The likelihoods are the published closed forms,
maximised with scipy; ``tests/test_clv.py`` checks them against the published estimates on
the CDNOW sample.

**What the ledger gives the models** (per customer, as of ``today``; from
:func:`xlcrm.operations.orders.order_metrics`, so Activity's definitions hold: an order is a
row with a positive amount, credit notes and zero lines are not orders): several orders on one
day are one purchase, as Fader and Hardie count them; ``x`` is the number of order days after
the first, ``t_x`` the weeks from the first to the last order day, ``T`` the weeks from the
first order day to ``today``, and the mean spend is the mean value of the repeat order days.
Customers without orders are not scored (blank).

**CLV** is the expected gross margin of the next ``horizon_months``, month by month
(expected orders in the month x expected order value x margin), discounted at the annual
rate; the margin is the customer's own gross-profit share of its last 12 months' revenue
where Transactions has GrossProfit, else the ledger's overall share, else the ``margin``
option (1 when not set: CLV is then expected revenue, and the fit says so).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Final

import numpy as np
import pandas as pd

from xlcrm.errors import InputError, Problem
from xlcrm.operations.orders import CHURN_LEVELS, OrderMetrics, churn_risk

__all__ = [
    "CLV_COLUMNS",
    "INDICATOR_COLUMNS",
    "LifetimeOptions",
    "attach_lifetime_value",
    "lifetime_by",
    "churn_warning",
    "churn_with_p_alive",
    "MODELS",
    "PurchaseModel",
    "SpendModel",
    "LifetimeValue",
    "clv",
    "fit_purchases",
    "fit_spend",
    "lifetime_value",
    "purchase_history",
]

CLV_COLUMNS: Final = ("PAlive", "ExpectedOrders", "ExpectedOrderValue", "CLV", "CLVNote")
"""Columns of :attr:`LifetimeValue.table`, in order."""

INDICATOR_COLUMNS: Final = ("PAlive", "ExpectedOrders", "ExpectedOrderValue", "CLV")
"""Figures an indicator of the hierarchy may name instead of a ``Customers`` column (all
benefit-direction); blank for customers without orders or when the model cannot be used."""

CHURN_P_ALIVE: Final = {"High": 0.3, "Medium": 0.6}
"""P(alive) below which the churn warning says High, or Medium (the rule's level is kept
when it is higher): below 0.3 the model gives the customer less than a one-in-three chance
of still buying, the point where a supplier would count it as lost without a call."""

MODELS: Final = ("bg", "mbg")
"""``bg``: BG/NBD (Fader, Hardie & Lee 2005); ``mbg``: MBG/NBD (Batislam et al. 2007)."""

DAYS_PER_WEEK: Final = 7.0
WEEKS_PER_MONTH: Final = 365.25 / 12 / 7
MIN_CUSTOMERS: Final = 20
"""Fewer customers with orders than this: no model is fitted (the estimates would be noise)."""
MIN_REPEAT_CUSTOMERS: Final = 10
"""Fewer customers with a repeat order than this: no model is fitted."""
LOW_P_ALIVE: Final = CHURN_P_ALIVE["Medium"]
"""Below this P(alive) (the churn warning's Medium level) CLVNote says why in words."""
_LOG_BOUND: Final = math.log(1e4)  # parameters searched in [1e-4, 1e4]
_AT_BOUND: Final = 1e-3


@dataclass(frozen=True)
class PurchaseModel:
    """A fitted BG/NBD or MBG/NBD model (weeks as the unit of time).

    Attributes
    ----------
    model : str
        ``"bg"`` or ``"mbg"`` (see :data:`MODELS`).
    r, alpha, a, b : float
        Gamma (order rate) and beta (drop-out) parameters.
    log_likelihood : float
        At the estimates, without the penalty.
    customers, repeat_customers : int
        Customers the model was fitted on, and those with at least one repeat order day.
    converged : bool
        The optimiser converged and no parameter sits at its search bound.
    message : str
        Empty when the fit can be used; else why not, in one line.
    """

    model: str
    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    customers: int
    repeat_customers: int
    converged: bool
    message: str = ""

    @property
    def usable(self) -> bool:
        """True when predictions from this fit can be shown."""
        return self.converged and not self.message

    def p_alive(self, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:  # noqa: N803
        """Probability that a customer with history ``(x, t_x, T)`` is still active."""
        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))  # noqa: N806
        log_ratio = (self.r + x) * (np.log(self.alpha + T) - np.log(self.alpha + t_x))
        if self.model == "mbg":
            odds = np.exp(np.log(self.a / (self.b + x)) + log_ratio)
        else:
            with np.errstate(divide="ignore"):
                odds = np.where(
                    x > 0, np.exp(np.log(self.a / np.maximum(self.b + x - 1, 1e-300)) + log_ratio),
                    0.0,
                )  # fmt: skip
        return 1.0 / (1.0 + odds)

    def expected_orders(
        self, t: float, x: np.ndarray, t_x: np.ndarray, T: np.ndarray  # noqa: N803
    ) -> np.ndarray:
        """Expected order days in the next ``t`` weeks (FHL 2005 eq. 10; Batislam eq. 9)."""
        from scipy.special import hyp2f1  # local, as all of scipy here: `import udfs` stays light

        x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))  # noqa: N806
        r, alpha, a, b = self.r, self.alpha, self.a, self.b
        z = t / (alpha + T + t)
        shrink = np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t)))
        if self.model == "mbg":
            head = (a + b + x) / (a - 1)
            body = 1 - shrink * hyp2f1(r + x, b + x + 1, a + b + x, z)
        else:
            head = (a + b + x - 1) / (a - 1)
            body = 1 - shrink * hyp2f1(r + x, b + x, a + b + x - 1, z)
        return head * body * self.p_alive(x, t_x, T)


@dataclass(frozen=True)
class SpendModel:
    """A fitted Gamma-Gamma spend model.

    Attributes
    ----------
    p, q, gamma : float
        Shape of the order values, shape and scale of the customers' mean values.
    log_likelihood : float
        At the estimates, without the penalty.
    customers : int
        Repeat customers the model was fitted on.
    spend_frequency_correlation : float
        Pearson correlation of mean spend and repeat orders; the model assumes none (Fader &
        Hardie 2013), so a strong one (above 0.3 in absolute value) is reported.
    converged : bool
        The optimiser converged, no parameter at its bound, and ``q > 1`` (else the expected
        order value has no finite mean).
    message : str
        Empty when the fit can be used; else why not, in one line.
    """

    p: float
    q: float
    gamma: float
    log_likelihood: float
    customers: int
    spend_frequency_correlation: float
    converged: bool
    message: str = ""

    @property
    def usable(self) -> bool:
        """True when predictions from this fit can be shown."""
        return self.converged and not self.message

    def expected_order_value(self, x: np.ndarray, mean_spend: np.ndarray) -> np.ndarray:
        """Expected value of a customer's next order (the population mean when ``x = 0``)."""
        x = np.asarray(x, dtype=float)
        m = np.where(x > 0, np.asarray(mean_spend, dtype=float), 0.0)
        return self.p * (self.gamma + x * m) / (self.p * x + self.q - 1)


@dataclass
class LifetimeValue:
    """Per-customer lifetime value and the fits behind it.

    Attributes
    ----------
    table : pandas.DataFrame
        Indexed like the order table it was computed from; columns :data:`CLV_COLUMNS`
        (blank where the customer has no orders or the model could not be used).
    purchases, spend : PurchaseModel or None, SpendModel or None
        The fits (``None`` when not attempted: too few customers).
    horizon_months : int
    problems : list of Problem
        One line each when a model could not be fitted or used.
    """

    table: pd.DataFrame
    purchases: PurchaseModel | None
    spend: SpendModel | None
    horizon_months: int
    problems: list[Problem] = field(default_factory=list)


# ------------------------------------------------------------------------------ history


def purchase_history(order_table: pd.DataFrame, today: object) -> pd.DataFrame:
    """The models' inputs per customer from :func:`~xlcrm.operations.orders.order_metrics`.

    Parameters
    ----------
    order_table : pandas.DataFrame
        ``OrderMetrics.table``: columns FirstOrder, LastOrder, OrderDays, RepeatOrderValue.
    today : datetime.date
        The day of the analysis.

    Returns
    -------
    pandas.DataFrame
        Same index; ``x`` (repeat order days), ``t_x`` and ``T`` in weeks, ``mean_spend``
        (mean repeat order-day value, NaN when ``x = 0``); NaN rows for customers without
        orders.
    """
    day = pd.Timestamp(today)
    first = pd.to_datetime(order_table["FirstOrder"])
    last = pd.to_datetime(order_table["LastOrder"])
    x = order_table["OrderDays"].to_numpy(dtype=float) - 1
    x[x < 0] = np.nan
    t_x = ((last - first).dt.days / DAYS_PER_WEEK).to_numpy(dtype=float)
    age = ((day - first).dt.days / DAYS_PER_WEEK).to_numpy(dtype=float)
    repeat = order_table["RepeatOrderValue"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_spend = np.where(x > 0, repeat / x, np.nan)
    return pd.DataFrame(
        {"x": x, "t_x": t_x, "T": age, "mean_spend": mean_spend}, index=order_table.index
    )


# ------------------------------------------------------------------------------ fitting


def _purchase_loglik(
    params: np.ndarray, model: str, x: _Counts, t_x: np.ndarray, T: np.ndarray,  # noqa: N803
    w: np.ndarray,
) -> tuple[float, np.ndarray]:
    """Log-likelihood (FHL 2005 eq. 6; Batislam et al. 2007 eq. 5), weighted by ``w``, and
    its gradient in ``(r, alpha, a, b)``.

    Each customer's likelihood is ``exp(common) * (exp(first) + exp(second))``: ``first`` for
    a customer still active at ``T``, ``second`` for one who dropped out after its last order.
    """
    from scipy.special import digamma, gammaln

    r, alpha, a, b = params
    xs = x.values
    # BG/NBD drops out after repeat orders (b + x - 1), MBG/NBD after any order (b + x)
    shift, drop = (1.0, 0.0) if model == "mbg" else (0.0, -1.0)
    common = x.apply(gammaln, r) - gammaln(r) + r * np.log(alpha)
    beta = (x.apply(gammaln, b + shift) - x.apply(gammaln, a + b + shift)
            + gammaln(a + b) - gammaln(b))  # fmt: skip
    log_t, log_tx = np.log(alpha + T), np.log(alpha + t_x)
    first = beta - (r + xs) * log_t
    can_drop = xs + drop >= 0 if model == "mbg" else xs > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(can_drop, b + xs + drop, 1.0)
        second = np.where(can_drop, beta + np.log(a) - np.log(gap) - (r + xs) * log_tx, -np.inf)
    total = _log_add(first, second)
    # a sum, not np.dot: a BLAS call costs more than the whole likelihood on a busy machine
    ll = float(np.sum(w * (common + total)))
    p_second = np.exp(second - total)  # share of the drop-out story in each likelihood
    p_first = 1 - p_second
    d_beta_a = digamma(a + b) - x.apply(digamma, a + b + shift)
    d_beta_b = x.apply(digamma, b + shift) - x.apply(digamma, a + b + shift) + digamma(a + b) \
        - digamma(b)
    grad = np.array([
        x.apply(digamma, r) - digamma(r) + np.log(alpha) - p_first * log_t - p_second * log_tx,
        r / alpha - (r + xs) * (p_first / (alpha + T) + p_second / (alpha + t_x)),
        d_beta_a + p_second / a,
        d_beta_b - p_second / gap,
    ])  # fmt: skip
    return ll, np.sum(grad * w, axis=1)


def _log_add(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``log(exp(u) + exp(v))`` without overflow (np.logaddexp, several times faster)."""
    top = np.maximum(u, v)
    return top + np.log1p(np.exp(np.minimum(u, v) - top))


class _Counts:
    """Integer counts ``values``; special functions of ``offset + values`` are evaluated once
    per distinct count (a ledger has thousands of customers but a few dozen counts)."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values
        self.distinct, self.where = np.unique(values, return_inverse=True)

    def apply(self, func: np.ufunc, offset: float) -> np.ndarray:
        """``func(offset + values)``."""
        return func(offset + self.distinct)[self.where]


def _spend_loglik(params: np.ndarray, x: np.ndarray, m: np.ndarray) -> tuple[float, np.ndarray]:
    """Gamma-Gamma log-likelihood (Fader & Hardie 2013, eq. 3) and its gradient in
    ``(p, q, gamma)``; ``x`` repeat orders and ``m`` their mean value, per customer."""
    from scipy.special import digamma, gammaln

    p, q, g = params
    px = p * x
    log_m, log_gxm = np.log(m), np.log(g + x * m)
    ll = (
        gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g)
        + (px - 1) * log_m + px * np.log(x) - (px + q) * log_gxm
    )  # fmt: skip
    psi = digamma(px + q)
    grad = np.array([
        np.sum(x * (psi - digamma(px) + log_m + np.log(x) - log_gxm)),
        np.sum(psi - digamma(q) + np.log(g) - log_gxm),
        np.sum(q / g - (px + q) / (g + x * m)),
    ])  # fmt: skip
    return float(ll.sum()), grad


def _maximise(  # noqa: ANN202
    loglik, starts: list[np.ndarray], penalty: float, scale: float  # noqa: ANN001
):
    """Maximise ``loglik`` (value and gradient) over log-parameters in +-``_LOG_BOUND``.

    Quasi-Newton from each of ``starts`` (log-parameters), the best kept: the likelihoods
    have ridges where a start far from the optimum runs to a bound.
    """
    from scipy.optimize import minimize  # local: keeps `import udfs` light
    from threadpoolctl import threadpool_limits

    n_params = len(starts[0])

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        params = np.exp(theta)
        ll, grad = loglik(params)
        value = -ll / scale + penalty * float(np.sum(params**2))
        if not np.isfinite(value):
            return 1e100, np.zeros(n_params)
        return value, (-grad / scale + 2 * penalty * params) * params

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * n_params
    options = {"ftol": 1e-15, "gtol": 1e-10, "maxiter": 2000}
    # L-BFGS-B's few small BLAS calls per step cost milliseconds when BLAS threads spin on a
    # busy machine (1.5 s of a 25,000-customer fit): one thread is faster here
    with threadpool_limits(limits=1, user_api="blas"):
        runs = [
            minimize(objective, np.clip(s, -_LOG_BOUND, _LOG_BOUND), jac=True,
                     method="L-BFGS-B", bounds=bounds, options=options)
            for s in starts
        ]  # fmt: skip
        best = min(runs, key=lambda res: res.fun)
        if not _settled(best):  # rough ground: a derivative-free search, then polish
            rough = minimize(lambda th: objective(th)[0], best.x, method="Nelder-Mead",
                             options={"xatol": 1e-6, "fatol": 1e-10, "maxiter": 5000})
            polish = minimize(objective, np.clip(rough.x, -_LOG_BOUND, _LOG_BOUND), jac=True,
                              method="L-BFGS-B", bounds=bounds, options=options)  # fmt: skip
            best = min((best, polish), key=lambda res: res.fun)
    theta = np.clip(best.x, -_LOG_BOUND, _LOG_BOUND)
    at_bound = bool(np.any(np.abs(np.abs(theta) - _LOG_BOUND) < _AT_BOUND))
    return np.exp(theta), bool(np.isfinite(best.fun) and _settled(best)), at_bound


def _settled(res) -> bool:  # noqa: ANN001
    """Converged, or stopped by the line search where no feasible direction improves (at
    full precision L-BFGS-B often ends with 'ABNORMAL' on the optimum itself)."""
    if res.success:
        return True
    grad = np.asarray(res.jac, dtype=float)
    lower, upper = res.x <= -_LOG_BOUND + 1e-9, res.x >= _LOG_BOUND - 1e-9
    grad = np.where((lower & (grad > 0)) | (upper & (grad < 0)), 0.0, grad)
    return bool(np.max(np.abs(grad)) < 1e-6)


def fit_purchases(
    x: Sequence[float] | np.ndarray,
    t_x: Sequence[float] | np.ndarray,
    T: Sequence[float] | np.ndarray,  # noqa: N803
    *,
    model: str = "bg",
    penalty: float = 0.0,
) -> PurchaseModel:
    """Fit BG/NBD (``model="bg"``) or MBG/NBD (``"mbg"``) by maximum likelihood.

    Parameters
    ----------
    x, t_x, T : array-like
        Repeat order days, weeks from first to last order day, weeks from first order day
        to the end of the calibration period; one entry per customer (NaN entries ignored).
    model : {"bg", "mbg"}
    penalty : float
        L2 penalty on the parameters (as ``lifetimes``' ``penalizer_coef``, per customer, on
        the parameters in units of the median customer age): 0 (default) is plain maximum
        likelihood; 0.001-0.1 steadies small ledgers.

    Returns
    -------
    PurchaseModel
        ``message`` says why it cannot be used when it cannot (too few customers or repeat
        customers, no convergence, a parameter at its bound).
    """
    if model not in MODELS:
        raise InputError(f"model {model!r} is not one of {', '.join(MODELS)}")
    if not (np.isfinite(penalty) and penalty >= 0):
        raise InputError(f"penalty {penalty!r} must be a number >= 0")
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))  # noqa: N806
    ok = np.isfinite(x) & np.isfinite(t_x) & np.isfinite(T) & (x >= 0) & (t_x <= T)
    x, t_x, T = x[ok], t_x[ok], T[ok]  # noqa: N806
    n, n_rep = int(x.size), int(np.count_nonzero(x > 0))
    name = "BG/NBD" if model == "bg" else "MBG/NBD"
    too_few = _too_few(n, n_rep)
    if too_few:
        return PurchaseModel(model, *(math.nan,) * 5, n, n_rep, False, f"{name}: {too_few}")
    # identical histories share one likelihood term (CDNOW: 2,357 customers, ~1,400 rows)
    hist = pd.DataFrame({"x": x, "t_x": t_x, "T": T}).value_counts().reset_index()
    hx, ht, hT, hw = (hist[c].to_numpy(dtype=float) for c in ("x", "t_x", "T", "count"))  # noqa: N806
    counts = _Counts(hx)
    # Fitted in units of the median customer age, so that the search bounds and the penalty
    # mean the same for a ledger in weeks of CDNOW or years of B2B history; alpha scales back.
    unit = max(float(np.median(T)), 1e-6)
    params, converged, at_bound = _maximise(
        lambda p: _purchase_loglik(p, model, counts, ht / unit, hT / unit, hw),
        [np.zeros(4), np.log([0.5, 0.1, 0.5, 2.0])], penalty, n,
    )
    params[1] *= unit
    ll = _purchase_loglik(params, model, counts, ht, hT, hw)[0]
    msg = ""
    if not converged:
        msg = f"{name}: the fit did not converge on {n} customers"
    elif at_bound:
        msg = (f"{name}: a parameter reached its bound ({_fmt_params(params, 'r alpha a b')}),"
               " the order history does not identify the model")  # fmt: skip
    return PurchaseModel(model, *map(float, params), ll, n, n_rep, converged and not at_bound, msg)


def fit_spend(
    x: Sequence[float] | np.ndarray,
    mean_spend: Sequence[float] | np.ndarray,
    *,
    penalty: float = 0.0,
) -> SpendModel:
    """Fit the Gamma-Gamma spend model on the repeat customers.

    Parameters
    ----------
    x, mean_spend : array-like
        Repeat order days and mean repeat order-day value per customer; customers with
        ``x = 0`` or a mean that is not positive are left out (the model is for positive
        values).
    penalty : float
        L2 penalty on the parameters, per customer, in units of the mean spend (0: plain
        maximum likelihood).

    Returns
    -------
    SpendModel
    """
    x, m = np.asarray(x, dtype=float), np.asarray(mean_spend, dtype=float)
    ok = np.isfinite(x) & np.isfinite(m) & (x > 0) & (m > 0)
    x, m = x[ok], m[ok]
    n = int(x.size)
    if n < MIN_REPEAT_CUSTOMERS:
        return SpendModel(*(math.nan,) * 4, n, math.nan, False,
                          f"Gamma-Gamma: {n} repeat customers with a positive spend,"
                          f" {MIN_REPEAT_CUSTOMERS} needed")  # fmt: skip
    corr = float(np.corrcoef(x, m)[0, 1]) if n > 2 and np.std(x) > 0 and np.std(m) > 0 else 0.0
    # Fitted in units of the mean spend (a ledger in cents, dollars or yuan alike); gamma,
    # the scale, goes back to money.
    unit = float(np.mean(m))
    starts = [np.zeros(3), np.log([2.0, 3.0, 2.0])]
    params, converged, at_bound = _maximise(
        lambda p: _spend_loglik(p, x, m / unit), starts, penalty, n
    )
    params[2] *= unit
    ll = _spend_loglik(params, x, m)[0]
    msg = ""
    if not converged:
        msg = f"Gamma-Gamma: the fit did not converge on {n} repeat customers"
    elif at_bound:
        msg = (f"Gamma-Gamma: a parameter reached its bound ({_fmt_params(params, 'p q gamma')});"
               " the order values do not identify the model")  # fmt: skip
    elif params[1] <= 1:
        msg = f"Gamma-Gamma: q = {params[1]:.3g} <= 1, the expected order value is not finite"
    return SpendModel(*map(float, params), ll, n, corr, converged and not at_bound, msg)


def _too_few(n: int, n_rep: int) -> str:
    if n < MIN_CUSTOMERS:
        return f"{n} customers with orders, {MIN_CUSTOMERS} needed to fit the model"
    if n_rep < MIN_REPEAT_CUSTOMERS:
        return (f"{n_rep} customers ordered more than once, {MIN_REPEAT_CUSTOMERS} needed"
                " to learn how often customers reorder")  # fmt: skip
    return ""


def _fmt_params(params: np.ndarray, names: str) -> str:
    return ", ".join(f"{k} = {v:.4g}" for k, v in zip(names.split(), params, strict=True))


# ------------------------------------------------------------------------------ value


def clv(
    purchases: PurchaseModel,
    spend: SpendModel,
    history: pd.DataFrame,
    margin: np.ndarray | float,
    *,
    horizon_months: int = 12,
    discount_rate: float = 0.1,
) -> np.ndarray:
    """Discounted expected margin of the next ``horizon_months`` per customer.

    Month ``i`` contributes (expected order days in month ``i``) x (expected order value)
    x margin / (1 + ``discount_rate``) ** (i / 12); ``history`` is :func:`purchase_history`.
    """
    x, t_x, age = (history[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
    value = spend.expected_order_value(x, history["mean_spend"].to_numpy(dtype=float))
    total = np.zeros(x.size)
    before = np.zeros(x.size)
    for month in range(1, horizon_months + 1):
        upto = purchases.expected_orders(month * WEEKS_PER_MONTH, x, t_x, age)
        total += (upto - before) / (1 + discount_rate) ** (month / 12)
        before = upto
    return total * value * margin


def lifetime_value(
    order_table: pd.DataFrame,
    today: object,
    *,
    horizon_months: int = 12,
    margin: float | None = None,
    discount_rate: float = 0.1,
    model: str = "bg",
    penalty: float = 0.0,
) -> LifetimeValue:
    """P(alive), expected orders, expected order value and CLV for every customer.

    Parameters
    ----------
    order_table : pandas.DataFrame
        ``OrderMetrics.table`` (:func:`xlcrm.operations.orders.order_metrics`) as of ``today``.
    today : datetime.date
        The end of the history the models learn from.
    horizon_months : int
        Months ahead for ExpectedOrders and CLV (default 12).
    margin : float or None
        Gross margin (0..1) for customers whose own is unknown; ``None``: the ledger's
        overall gross-profit share when Transactions has GrossProfit, else 1 (CLV in revenue).
    discount_rate : float
        Annual discount rate (default 10 %).
    model : {"bg", "mbg"}
    penalty : float
        L2 penalty for small ledgers (0: plain maximum likelihood).

    Returns
    -------
    LifetimeValue
        Blank figures (with the reason in ``problems``) when a model cannot be used.
    """
    _check_options(horizon_months, margin, discount_rate)
    history = purchase_history(order_table, today)
    table = pd.DataFrame(np.nan, index=order_table.index, columns=list(CLV_COLUMNS))
    table["CLVNote"] = ""
    has = history["x"].notna().to_numpy()
    h = history[has]
    purchases = fit_purchases(h["x"], h["t_x"], h["T"], model=model, penalty=penalty)
    spend = fit_spend(h["x"], h["mean_spend"], penalty=penalty)
    problems = [_problem(m.message) for m in (purchases, spend) if m.message]
    if purchases.usable:
        x, t_x, age = (h[c].to_numpy(dtype=float) for c in ("x", "t_x", "T"))
        alive = purchases.p_alive(x, t_x, age)
        table.loc[has, "PAlive"] = alive
        table.loc[has, "ExpectedOrders"] = purchases.expected_orders(
            horizon_months * WEEKS_PER_MONTH, x, t_x, age
        )
        table.loc[has, "CLVNote"] = _notes(order_table[has], alive)
    if spend.usable:
        table.loc[has, "ExpectedOrderValue"] = spend.expected_order_value(
            h["x"].to_numpy(dtype=float), h["mean_spend"].to_numpy(dtype=float)
        )
    if purchases.usable and spend.usable:
        own = _margins(order_table[has], margin)
        table.loc[has, "CLV"] = clv(purchases, spend, h, own, horizon_months=horizon_months,
                                    discount_rate=discount_rate)  # fmt: skip
    if spend.usable and abs(spend.spend_frequency_correlation) > 0.3:
        problems.append(_problem(
            f"Gamma-Gamma assumes order value does not depend on how often a customer orders,"
            f" but here they correlate ({spend.spend_frequency_correlation:+.2f}); treat"
            " ExpectedOrderValue and CLV as rough", blanks=False,
        ))  # fmt: skip
    return LifetimeValue(table, purchases, spend, horizon_months, problems)


@dataclass(frozen=True)
class LifetimeOptions:
    """The analyst's choices for lifetime value (Indicators options; see :func:`lifetime_value`).

    Attributes
    ----------
    horizon_months : int
        Months ahead for ExpectedOrders and CLV (1..120, default 12).
    margin : float or None
        Gross margin for customers whose own is unknown (0..1; ``None``: from GrossProfit).
    discount_rate : float
        Annual discount rate (0..1, default 0.10).
    model : str
        ``"bg"`` (BG/NBD, default) or ``"mbg"`` (MBG/NBD).
    penalty : float
        L2 penalty for small ledgers (>= 0, default 0).
    """

    horizon_months: int = 12
    margin: float | None = None
    discount_rate: float = 0.1
    model: str = "bg"
    penalty: float = 0.0

    def validate(self) -> None:
        """Raise :class:`InputError` naming the first value out of range."""
        _check_options(self.horizon_months, self.margin, self.discount_rate)
        if self.model not in MODELS:
            raise InputError(f"lifetime model {self.model!r} is not one of {', '.join(MODELS)}")
        if not (math.isfinite(self.penalty) and self.penalty >= 0):
            raise InputError(f"lifetime penalty {self.penalty!r}: use a number >= 0, like 0.01")


def attach_lifetime_value(
    metrics: OrderMetrics, options: LifetimeOptions | None = None
) -> tuple[OrderMetrics, LifetimeValue]:
    """``metrics`` with :data:`CLV_COLUMNS` joined to its table, and the lifetime value.

    One fit per run, shared by whatever reads the order table: Activity, the churn warning,
    and indicators that name PAlive, ExpectedOrders or CLV.
    """
    options = options or LifetimeOptions()
    value = lifetime_value(
        metrics.table, metrics.today, horizon_months=options.horizon_months,
        margin=options.margin, discount_rate=options.discount_rate, model=options.model,
        penalty=options.penalty,
    )  # fmt: skip
    table = metrics.table.drop(columns=list(CLV_COLUMNS), errors="ignore")
    joined = pd.concat([table, value.table.set_axis(table.index)], axis=1)
    return replace(metrics, table=joined), value


def churn_warning(metrics: OrderMetrics, options: LifetimeOptions | None = None) -> pd.DataFrame:
    """The churn warning the Activity sheet shows: the rule's, raised by P(alive) when the
    lifetime model can be used (see :func:`churn_with_p_alive`).

    ``metrics`` may already carry the lifetime figures (:func:`attach_lifetime_value`);
    otherwise they are fitted here with ``options``.
    """
    if "PAlive" not in metrics.table.columns:
        metrics, _ = attach_lifetime_value(metrics, options)
    churn = churn_risk(metrics, today=metrics.today)
    if metrics.table["PAlive"].notna().any():
        churn = churn_with_p_alive(churn, metrics.table)
    return churn


def churn_with_p_alive(churn: pd.DataFrame, order_table: pd.DataFrame) -> pd.DataFrame:
    """The rule-based churn warning raised where the model's P(alive) is lower.

    Parameters
    ----------
    churn : pandas.DataFrame
        From :func:`xlcrm.operations.orders.churn_risk` (ChurnRisk, ChurnReason...).
    order_table : pandas.DataFrame
        The order table with PAlive and CLVNote (see :func:`attach_lifetime_value`), same
        index.

    Returns
    -------
    pandas.DataFrame
        ``churn`` with ChurnRisk the higher of the rule's level and P(alive)'s
        (:data:`CHURN_P_ALIVE`), and the reason in words saying P(alive).
    """
    p = order_table["PAlive"].to_numpy(dtype=float)
    rule = churn["ChurnRisk"].to_numpy(dtype=object)
    levels = {lvl: k for k, lvl in enumerate(CHURN_LEVELS)}
    by_model = np.where(p < CHURN_P_ALIVE["High"], 2, np.where(p < CHURN_P_ALIVE["Medium"], 1, 0))
    out = churn.copy()
    risk = out["ChurnRisk"].to_numpy(dtype=object).copy()
    reason = out["ChurnReason"].to_numpy(dtype=object).copy()
    note = order_table["CLVNote"].to_numpy(dtype=object)
    for i in np.flatnonzero(np.isfinite(p)):
        if rule[i] not in levels:
            continue
        said = f"P(alive) {p[i]:.2f}"
        if by_model[i] > levels[rule[i]]:
            risk[i] = CHURN_LEVELS[by_model[i]]
            reason[i] = f"{said}: {note[i]}" if note[i] else said
        else:
            reason[i] = f"{reason[i]} ({said})"
    out["ChurnRisk"], out["ChurnReason"] = risk, reason
    return out


LIFETIME_BY_COLUMNS: Final = ("Segment", "Customers", "CLV", "CLVShare", "MeanCLV", "MeanPAlive")
"""Columns of :func:`lifetime_by`."""


def lifetime_by(
    labels: Sequence[object] | np.ndarray, clv_values: np.ndarray, p_alive: np.ndarray,
    order: Sequence[object],
) -> pd.DataFrame:
    """CLV per segment: customers, total CLV, its share of all CLV, mean CLV and P(alive).

    Parameters
    ----------
    labels : per customer
        Segment of each customer (blank or NaN: not in any row).
    clv_values, p_alive : per customer
        From :func:`lifetime_value` (NaN where unknown: not summed, not averaged).
    order : sequence
        The segments to list, in this order; a segment without customers is left out.
    """
    frame = pd.DataFrame({"Segment": np.asarray(labels, dtype=object),
                          "CLV": np.asarray(clv_values, dtype=float),
                          "PAlive": np.asarray(p_alive, dtype=float)})  # fmt: skip
    total = float(np.nansum(frame["CLV"]))
    grouped = frame.groupby("Segment", sort=False)
    table = pd.DataFrame({
        "Customers": grouped.size(),
        "CLV": grouped["CLV"].sum(min_count=1),
        "MeanCLV": grouped["CLV"].mean(),
        "MeanPAlive": grouped["PAlive"].mean(),
    })  # fmt: skip
    table["CLVShare"] = table["CLV"] / total if total > 0 else np.nan
    table = table.reindex([s for s in order if s in table.index])
    return table.rename_axis("Segment").reset_index()[list(LIFETIME_BY_COLUMNS)]


def _check_options(horizon_months: int, margin: float | None, discount_rate: float) -> None:
    if not (isinstance(horizon_months, int | np.integer) and 1 <= horizon_months <= 120):
        raise InputError(f"horizon of {horizon_months!r} months: use a whole number from 1 to 120")
    if margin is not None and not (math.isfinite(margin) and 0 < margin <= 1):
        raise InputError(f"margin {margin!r}: use a share between 0 and 1 (like 0.25 for 25 %)")
    if not (math.isfinite(discount_rate) and 0 <= discount_rate < 1):
        raise InputError(
            f"discount rate {discount_rate!r}: use an annual rate from 0 to 1 (like 0.1 for 10 %)"
        )


def _margins(order_table: pd.DataFrame, margin: float | None) -> np.ndarray:
    """Each customer's gross-profit share of its 12-month revenue, else the fallback."""
    gp = order_table["GrossProfit12m"].to_numpy(dtype=float)
    rev = order_table["Revenue12m"].to_numpy(dtype=float)
    known = np.isfinite(gp) & (rev > 0)
    if margin is None:
        total = rev[known].sum()
        margin = float(np.clip(gp[known].sum() / total, 0, 1)) if total > 0 else 1.0
    own = np.full(rev.size, float(margin))
    own[known] = np.clip(gp[known] / rev[known], 0, 1)
    return own


def _notes(order_table: pd.DataFrame, alive: np.ndarray) -> np.ndarray:
    """'last order 14 months ago; usually orders every 6 weeks' where P(alive) is low."""
    recency = order_table["RecencyDays"].to_numpy(dtype=float)
    interval = order_table["TypicalIntervalDays"].to_numpy(dtype=float)
    out = np.full(alive.size, "", dtype=object)
    for i in np.flatnonzero(alive < LOW_P_ALIVE):
        since = f"last order {_span(recency[i])} ago"
        usual = (f"usually orders every {_span(interval[i])}" if np.isfinite(interval[i])
                 else "one order day only")  # fmt: skip
        out[i] = f"{since}; {usual}"
    return out


def _span(days: float) -> str:
    """Days in the unit a sales analyst would say: 12 days, 6 weeks, 14 months, 2.5 years."""
    if days < 21:
        n, unit = round(days), "day"
    elif days < 120:
        n, unit = round(days / 7), "week"
    elif days < 730:
        n, unit = round(days / 30.44), "month"
    else:
        return f"{days / 365.25:.1f} years"
    return f"{n} {unit}{'' if n == 1 else 's'}"


def _problem(message: str, *, blanks: bool = True) -> Problem:
    """One line on the Problems sheet for a model that cannot be used (or is doubtful)."""
    tail = "; PAlive, ExpectedOrders and CLV are left blank" if blanks else ""
    return Problem(
        "warning", f"Lifetime value: {message}{tail}",
        "More order history, or a penalty (Indicators options), lets the model fit.",
        sheet="Transactions",
    )


def holdout_check(
    purchases: PurchaseModel, history: pd.DataFrame, actual: pd.Series, weeks: float
) -> tuple[pd.DataFrame, float]:
    """Predicted against actual repeat order days in a holdout period after calibration.

    Parameters
    ----------
    purchases : PurchaseModel
        Fitted on the calibration period.
    history : pandas.DataFrame
        :func:`purchase_history` at the end of calibration (customers with orders).
    actual : pandas.Series
        Order days per customer in the holdout period (same index; missing means 0).
    weeks : float
        Length of the holdout period.

    Returns
    -------
    table : pandas.DataFrame
        By calibration repeat order days (0, 1, ..., 7 and "7+" pooled as 7): customers, mean
        predicted, mean actual.
    error : float
        Aggregate relative error: (sum predicted - sum actual) / sum actual.
    """
    h = history[history["x"].notna()]
    predicted = purchases.expected_orders(weeks, h["x"], h["t_x"], h["T"])
    got = actual.reindex(h.index, fill_value=0).to_numpy(dtype=float)
    frame = pd.DataFrame({"x": h["x"].clip(upper=7).astype(int).to_numpy(),
                          "predicted": predicted, "actual": got})  # fmt: skip
    table = frame.groupby("x").agg(customers=("actual", "size"), predicted=("predicted", "mean"),
                                   actual=("actual", "mean"))  # fmt: skip
    error = float((predicted.sum() - got.sum()) / got.sum()) if got.sum() > 0 else math.nan
    return table, error
