"""Ready-made customer-value models: hierarchy, judgments, types and options, as data.

Three models come from the evaluation practice this tool was written for (DESIGN.md §2 and
issue #14); ``xlcrm new BOOK --model NAME`` lays one out in a new workbook
(:mod:`xlcrm.book.new_book`), ``xlcrm demo OUT --model NAME`` adds a synthetic ledger that
exercises it:

``parts-dealer``
    The construction-machinery parts dealer's model, today's default: Qualification,
    Potential and Contribution, four indicators each, 8 types, ABC by 12-month revenue
    (:func:`xlcrm.value.hierarchy.default_hierarchy`).
``industrial``
    The industrial-products seller's model: **current value** (gross profit, sales volume,
    marketing and service cost, lower is better) and **future value** (industry status,
    years of cooperation, satisfaction); two groups give 4 types (High/Low current x future);
    the value score splits customers into **strategic** (A: the best customers holding 30 %
    of the total value score, about the top fifth) and **general** (C: the rest), with no
    middle class (ABC cut-off B equal to A).
``truck-maker``
    The heavy-truck maker's model: **direct value** (revenue, gross profit, purchase
    frequency, payment timeliness) and **potential value** (fleet size, purchase growth,
    share-of-wallet headroom, credit standing, satisfaction); 4 types, and ABC classes by
    the value score named as the maker does: A strategic (the best customers holding 30 %
    of the total value score), B key (to 70 %), C general. Its check that
    the indicators do not measure one another (correlation) and that the types differ
    (analysis of variance) are the run's indicator checks and validation table.

What the sources give and what is assumed: the sources name the groups, the indicators
and the customer classes. The scoring rules (percentile rank for money, bands for growth
and years, a rubric for labels), the pairwise judgments, the type names, strategies,
owners and visit intervals are this module's reasoned defaults, written in each preset's
``assumed`` text; the analyst edits them on the Indicators, Judgments and Strategies
sheets like any other. Every judgment matrix has CR < 0.10 (tests check it).

Why the ABC cut-offs of the two value-score models are 30 % (and 70 %), not revenue's 80 %
and 95 %: the value score is a 0-100 composite, not money, and its cumulative share grows
almost linearly; 80 % of the total value score takes some 65 to 70 % of the customers, and
"strategic" would mean most of them. 30 % of the total takes about the top fifth (the demo:
19 to 22 %), which is what a strategic class is in both sources.

Everything here is plain data: :func:`preset` returns a :class:`Preset`,
:func:`preset_tables` the Indicators, Judgments and Strategies content as tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import numpy as np

from xlcrm.errors import InputError
from xlcrm.value.hierarchy import (
    Hierarchy,
    Indicator,
    _reciprocal,
    default_hierarchy,
    default_judgments,
    hierarchy_to_table,
)
from xlcrm.value.strategies import DEFAULT_TYPES, CustomerType, strategies_to_table

__all__ = [
    "DEFAULT_PRESET",
    "PRESET_NAMES",
    "Preset",
    "preset",
    "preset_tables",
]

DEFAULT_PRESET = "parts-dealer"


@dataclass(frozen=True)
class Preset:
    """One ready-made model.

    Attributes
    ----------
    name : str
        What ``--model`` takes (``"industrial"``).
    title : str
        One line for the Help sheet and ``--help``.
    source : str
        Whose evaluation practice it follows, in words.
    assumed : str
        What the source does not fix and this preset chose.
    hierarchy : Hierarchy
        Groups and indicators with their columns, directions and scoring rules.
    judgments : mapping
        ``"groups"`` and each group -> reciprocal judgment matrix, in hierarchy order.
    types : tuple of CustomerType
        One per High/Low type (``2**groups``), with strategy, owner and visit interval.
    options : mapping
        Analysis options that differ from :class:`xlcrm.pipeline.Options`' defaults
        (``abc_basis``, ``abc_cutoffs``), by field name.
    """

    name: str
    title: str
    source: str
    assumed: str
    hierarchy: Hierarchy
    judgments: Mapping[str, np.ndarray]
    types: tuple[CustomerType, ...]
    options: Mapping[str, Any] = field(default_factory=dict)


_NONNEG = {"nonnegative": True}
INDUSTRY_STATUS_LABELS = ("Leader", "Major", "Average", "Minor")
"""The industrial model's rubric for a customer's standing in its own industry."""


def _default(name: str, group: str, new_name: str | None = None) -> Indicator:
    """The default model's indicator ``name`` (its column and scoring rule) in ``group``."""
    return replace(default_hierarchy().indicator(name), group=group, name=new_name or name)


def _parts_dealer() -> Preset:
    return Preset(
        name="parts-dealer",
        title="Qualification, Potential, Contribution (3 x 4 indicators), 8 types, ABC by "
        "revenue",
        source="the construction-machinery parts dealer's customer evaluation (the default "
        "template, DESIGN.md section 2)",
        assumed="scoring rules, judgments, type names, strategies and visit intervals are "
        "xlcrm's defaults",
        hierarchy=default_hierarchy(),
        judgments=default_judgments(),
        types=DEFAULT_TYPES,
    )


def _industrial() -> Preset:
    cur, fut = "Current value", "Future value"
    hierarchy = Hierarchy((
        _default("Gross profit", cur),
        # Sales volume as orders, not revenue: 12-month revenue ranks customers as gross
        # profit does (Spearman 0.98 on the demo), so the model would weigh one thing twice.
        Indicator(cur, "Sales volume", "Orders12m", "quantitative", "percentile",
                  params=_NONNEG),
        Indicator(cur, "Marketing and service cost", "ServiceCost12m", "quantitative",
                  "percentile", "cost", params=_NONNEG),
        Indicator(fut, "Industry status", "IndustryStatus", "qualitative", "rubric",
                  params={"labels": dict(zip(INDUSTRY_STATUS_LABELS, (100, 75, 50, 25),
                                             strict=True))}),
        Indicator(fut, "Cooperation years", "CooperationYears", "quantitative", "bands",
                  params={"thresholds": (1.0, 3.0, 6.0), "points": (10, 40, 70, 100),
                          "nonnegative": True}),
        _default("Satisfaction", fut),
    ))  # fmt: skip
    types = (
        CustomerType(1, "HH", "Most valuable",
                     "Serve through a key-account team: joint planning, priority delivery and "
                     "technical support, so that today's profit and tomorrow's both stay.",
                     "Key-account team", 14),
        CustomerType(2, "HL", "Mature earner",
                     "Keep the current business at low service cost: regular visits, "
                     "standard terms, watch for a decline.", "Account manager", 30),
        CustomerType(3, "LH", "Growth prospect",
                     "Invest in the relationship: solutions selling, trials and "
                     "cooperation projects that turn future value into orders.",
                     "Sales and application engineers", 30),
        CustomerType(4, "LL", "Low value",
                     "Serve at the lowest cost (phone, email, distributors); review whether "
                     "the account pays for its marketing and service.", "Inside sales", 90),
    )  # fmt: skip
    return Preset(
        name="industrial",
        title="current value and future value (2 x 3 indicators), 4 types, strategic vs "
        "general customers by value score",
        source="the industrial-products seller's evaluation of current value (gross profit, "
        "sales volume, marketing and service cost) and future value (industry status, "
        "cooperation years, satisfaction), with strategic and general customers (issue #14)",
        assumed="sales volume is read as the number of orders in the last 12 months (revenue "
        "would measure what gross profit measures); marketing and service cost is a "
        "typed 12-month figure (ServiceCost12m); industry status is a 4-label rubric; "
        "current value weighs twice future value; strategic customers are the best holding 30 "
        "% of the total value score",
        hierarchy=hierarchy,
        judgments={
            "groups": _reciprocal((2,), 2),
            cur: _reciprocal((2, 3, 2), 3),
            fut: _reciprocal((2, 1 / 2, 1 / 3), 3),
        },
        types=types,
        options={"abc_basis": "Value", "abc_cutoffs": (0.30, 0.30)},
    )


def _truck_maker() -> Preset:
    direct, potential = "Direct value", "Potential value"
    hierarchy = Hierarchy((
        # Gross profit without sales revenue: the two rank customers alike (Spearman 0.98
        # on the demo), the very redundancy the maker's correlation analysis looks for.
        _default("Gross profit", direct),
        Indicator(direct, "Purchase frequency", "Orders12m", "quantitative", "percentile",
                  params=_NONNEG),
        _default("Payment timeliness", direct),
        Indicator(potential, "Fleet size", "FleetSize", "quantitative", "percentile",
                  params=_NONNEG),
        *(_default(name, potential) for name in (
            "Purchase growth", "Wallet headroom", "Credit standing", "Satisfaction")),
    ))  # fmt: skip
    types = (
        CustomerType(1, "HH", "Core fleet",
                     "Dedicated key-account service: fleet plans, service contracts and "
                     "first call on new models.", "Key-account team", 14),
        CustomerType(2, "HL", "Established buyer",
                     "Protect the business: regular visits, parts and service packages, "
                     "early warning when orders slow.", "Dealer account manager", 30),
        CustomerType(3, "LH", "Growing fleet",
                     "Develop: financing offers, trial vehicles and fleet-replacement "
                     "proposals to win the growth.", "Sales and finance", 30),
        CustomerType(4, "LL", "Occasional buyer",
                     "Low-cost contact through the dealer network and scheduled calls.",
                     "Dealer network", 90),
    )  # fmt: skip
    return Preset(
        name="truck-maker",
        title="direct value and potential value (3 + 5 indicators), 4 types, ABC "
        "strategic/key/general by value score",
        source="the heavy-truck maker's evaluation of direct and potential customer value, "
        "with ABC classes named strategic, key and general customers and a correlation "
        "and variance analysis of the indicators (issue #14)",
        assumed="the indicators within each group (sales revenue is left out: gross profit "
        "ranks customers as it does), their scoring rules, the judgments (the "
        "two groups weigh the same) and the type names and strategies; fleet size is a "
        "typed number of trucks (FleetSize); the correlation and variance analysis are the "
        "run's indicator checks and its validation table",
        hierarchy=hierarchy,
        judgments={
            "groups": _reciprocal((1,), 2),
            direct: _reciprocal((3, 4, 2), 3),
            potential: _reciprocal((2, 1 / 2, 2, 3, 1 / 3, 1, 2, 3, 3, 1 / 2), 5),
        },
        types=types,
        options={"abc_basis": "Value", "abc_cutoffs": (0.30, 0.70)},
    )


_PRESETS = MappingProxyType({
    "parts-dealer": _parts_dealer,
    "industrial": _industrial,
    "truck-maker": _truck_maker,
})  # fmt: skip
PRESET_NAMES: tuple[str, ...] = tuple(_PRESETS)
"""The names ``--model`` takes, the default first."""


def preset(name: str) -> Preset:
    """The preset called ``name`` (case and surrounding spaces ignored).

    Raises
    ------
    InputError
        One line listing the valid names.
    """
    key = str(name).strip().lower()
    if key not in _PRESETS:
        raise InputError(
            f"model {name!r} is not known",
            fix=f"Use one of: {', '.join(PRESET_NAMES)}.",
        )
    return _PRESETS[key]()


def preset_tables(name: str) -> dict[str, Any]:
    """The settings a preset puts in a workbook, as tables and matrices.

    Returns
    -------
    dict
        ``"Indicators"``: the hierarchy table (:func:`hierarchy_to_table`);
        ``"Judgments"``: level -> judgment matrix; ``"Strategies"``: the types table
        (:func:`strategies_to_table`); ``"Options"``: the options that differ from the
        defaults.
    """
    p = preset(name)
    return {
        "Indicators": hierarchy_to_table(p.hierarchy),
        "Judgments": dict(p.judgments),
        "Strategies": strategies_to_table(p.types),
        "Options": dict(p.options),
    }
