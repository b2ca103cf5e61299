"""Synthetic demo ledger: B2B industrial customers with a consistent three-year history.

The customers are the kind xlcrm is for: construction-machinery dealers, haulage fleets,
mines, municipal works and farms buying parts, trucks, machines and building materials from
an industrial supplier. Everything is drawn from a small latent model, so the numbers hang
together the way real ledgers do:

* a latent **size** drives employees, equipment value, the customer's spend with us
  (lognormal, so revenue is long-tailed: the top 20 % of customers bring roughly three
  quarters of it), order frequency, order value, discounts and visit frequency;
* a latent **health** (correlated 0.3 with size) drives operating status, credit rating,
  days to pay (the healthier, the faster), purchase trend and the chance of lapsing;
* a latent **service experience** drives complaints (more orders, more complaints; a poor
  experience, many more) and the survey answers, which also fall with each recent complaint.

:func:`make_ledger` generates the four ledger tables. ``Transactions`` covers ``months``
(default 36) months up to ``today``; customers may be established (ordering all along), won
during the history, new (first order in the last 12 months), fading (silent for 3 to 9
months: food for the churn warning) or lapsed (no order in the last 12 months). Each customer
orders at its own rhythm (evenly spaced orders with some jitter, as B2B replenishment goes), so
a customer's usual interval between orders means something.
``Interactions`` holds visits (with the account manager's name in the outcome), calls,
complaints and service jobs; complaints and service jobs carry a ``ResolvedDate`` unless still
open. The account managers' last three planned check-in calls of each customer they still
serve follow a contact rhythm by size (14 days for the largest, 90 for the smallest; see
:func:`_planned_contacts`), so that about a fifth of the customers are overdue, not all.
``Survey`` holds one questionnaire (``Q1`` ... ``Q6``, Likert 1..5, Cronbach's alpha
about 0.8) from about 40 % of the customers.
``Contacts`` holds the buying center: 2 to 5 people per customer (more at larger ones), the
first being the ``Contact`` of ``Customers``; a decision maker is known at about three
customers in four (more often at large ones), and stances follow the customer's health, so a
few decision makers oppose us (see :func:`_contacts_frame`; its draws come from a generator
of their own, so the other tables are the same with or without it).

The derived columns of ``Customers`` are computed from the generated tables, with these
definitions (``today`` inclusive; "last 12 months" is ``today - 1 year < Date <= today``, "the
12 months before" is ``today - 2 years < Date <= today - 1 year``; every ``Transactions`` row
is one order):

``Revenue12m``, ``GrossProfit12m``
    Sum of ``Amount`` / ``GrossProfit`` over the last 12 months, exact to the cent (0 when none).
``UnitProfit``
    ``GrossProfit12m`` / number of orders in the last 12 months, rounded to the cent; 0 for a
    customer without orders in that period (it contributes nothing).
``PurchaseGrowth``
    :func:`growth_rate` of the last 12 months' revenue against the 12 months before, rounded
    to 4 decimals: ``(current - previous) / previous`` capped at :data:`GROWTH_CAP` (+100 %);
    a new customer (nothing before, something now) gets :data:`GROWTH_CAP`; a lapsed customer
    (nothing in the last 12 months) gets -1.
``WalletHeadroom``
    The customer's estimated yearly purchases of our kind of goods minus ``Revenue12m``,
    rounded to the thousand, never below 0.
``Satisfaction``
    Mean of the customer's survey answers (all questions), rounded to 2 decimals; blank for a
    customer who returned no questionnaire.

The other indicator columns are drawn from the latent model directly. :func:`make_customers`
draws the ``Customers`` table alone from the same model, summarising the history instead of
generating it (fast enough for 1 048 576 customers); its identity columns and directly drawn
indicator columns equal :func:`make_ledger`'s for the same arguments.

Planted problems (``dirty=True``, the default): the entries of :data:`PLANTED_PROBLEMS` are
written into ``Customers``, each into its own row chosen by the seed, and listed with their
cells in ``DemoLedger.planted_problems``; the rest of the ledger is clean. They are:

* three blank indicator cells (``EquipmentValue``, ``OperatingStatus``, ``WalletHeadroom``);
* text in numeric columns (``Employees`` = ``"approx 200"``, ``DaysToPay`` = ``"n/a"``);
* labels outside the rubric (``OperatingStatus`` = ``"Very good"``, ``CreditRating`` = ``"aa+"``);
* an impossible negative (``Employees`` = ``-5``);
* two traps that are *not* errors and must not be reported: a customer name that looks like a
  formula (``=HYPERLINK(...)``: it must stay text) and a valid rating typed in lower case with
  surrounding spaces (the row's own rating, e.g. ``" bbb "`` for ``BBB``: rubric labels match
  ignoring case and surrounding spaces).

With fewer customers than planted entries only the first ``n_customers`` are planted.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.special import ndtri

from xlcrm import schema
from xlcrm.errors import InputError, cell_address
from xlcrm.ledger import Ledger
from xlcrm.operations.derived import DERIVABLE
from xlcrm.value.presets import INDUSTRY_STATUS_LABELS

__all__ = [
    "COMPUTED_COLUMNS",
    "CREDIT_RATING_LABELS",
    "CUSTOMER_COLUMNS",
    "DEFAULT_MONTHS",
    "DEFAULT_ORDERS_PER_CUSTOMER",
    "DEFAULT_TODAY",
    "EXCEL_DATA_ROWS",
    "GROWTH_CAP",
    "INDUSTRY_OUTLOOK_LABELS",
    "INTERACTION_KINDS",
    "OPERATING_STATUS_LABELS",
    "PLANTED_PROBLEMS",
    "SURVEY_COLUMNS",
    "SURVEY_IMPORTANCE",
    "SURVEY_QUESTIONS",
    "DemoLedger",
    "HistoryFit",
    "PlantedProblem",
    "fit_history",
    "growth_rate",
    "make_customers",
    "make_ledger",
    "plant_problems",
]

DEFAULT_TODAY: Final = dt.date(2026, 10, 31)
"""Fixed "today" of the demo, so that the default ledger is the same on every machine."""
DEFAULT_MONTHS: Final = 36
DEFAULT_ORDERS_PER_CUSTOMER: Final = 10.0
GROWTH_CAP: Final = 1.0
"""Highest ``PurchaseGrowth`` (+100 %); also the growth given to a new customer."""

OPERATING_STATUS_LABELS: Final = ("Excellent", "Good", "Fair", "Poor")
CREDIT_RATING_LABELS: Final = ("AAA", "AA", "A", "BBB", "BB", "B", "C")
INDUSTRY_OUTLOOK_LABELS: Final = ("Growing", "Stable", "Shrinking")
INTERACTION_KINDS: Final = ("visit", "call", "complaint", "service")
SURVEY_QUESTIONS: Final = schema.SURVEY_QUESTIONS
SURVEY_IMPORTANCE: Final = {"Q1": 5.0, "Q2": 4.5, "Q3": 4.0, "Q4": 4.0, "Q5": 3.0}
"""The demo analyst's importance of each question (Q6, the overall verdict, is an outcome,
not an attribute, and is left out of the importance-performance table)."""
CUSTOMER_COLUMNS: Final = schema.CUSTOMER_IDENTITY_COLUMNS + schema.DEFAULT_INDICATOR_COLUMNS
COMPUTED_COLUMNS: Final = tuple(c for c in CUSTOMER_COLUMNS if c in DERIVABLE)
"""The ``Customers`` columns xlcrm computes from ``Transactions`` and ``Survey``
(``PurchaseGrowth``, ``Satisfaction``, ``Revenue12m``, ``GrossProfit12m``, ``UnitProfit``):
left blank with ``type_computed=False``, as in the demo workbook."""
EXCEL_DATA_ROWS: Final = 1_048_576 - 1
"""Rows a ledger sheet holds below its header row (Excel's limit is 1,048,576 rows)."""
SURVEY_COLUMNS: Final = schema.SURVEY_ID_COLUMNS + tuple(SURVEY_QUESTIONS)


@dataclass(frozen=True)
class PlantedProblem:
    """One deliberately bad (or deliberately tricky) cell of the demo's ``Customers`` sheet.

    Parameters
    ----------
    kind : str
        ``"blank"``, ``"text-in-number"``, ``"unknown-label"``, ``"negative"``,
        ``"formula-text"`` or ``"label-variant"``.
    column : str
        Column of ``Customers``.
    row : int
        0-based row of the ``customers`` DataFrame.
    customer_id : str
        CustomerID of that row.
    value : object
        What was written (``None`` for a blank cell).
    original : object
        The clean value it replaced (what ``dirty=False`` has in that cell).
    reported : bool
        Whether a check of the workbook must report it. The traps (a formula-like name, a
        valid label in other case) are planted to prove they are *not* reported.
    note : str
        What it is, in words.
    """

    kind: str
    column: str
    row: int
    customer_id: str
    value: Any
    original: Any
    reported: bool
    note: str

    @property
    def sheet(self) -> str:
        """Always ``Customers``."""
        return schema.CUSTOMERS

    @property
    def cell(self) -> str:
        """A1 address on the ``Customers`` sheet when the table starts at A1 (header in row 1)."""
        return cell_address(self.row + 1, CUSTOMER_COLUMNS.index(self.column))


PLANTED_PROBLEMS: Final[tuple[tuple[str, str, Any, bool, str], ...]] = (
    # (kind, column, value written, must be reported, note)
    ("blank", "EquipmentValue", None, True, "blank indicator cell"),
    ("blank", "OperatingStatus", None, True, "blank qualitative indicator cell"),
    ("blank", "WalletHeadroom", None, True, "blank indicator cell"),
    ("text-in-number", "Employees", "approx 200", True, "text in a numeric column"),
    ("text-in-number", "DaysToPay", "n/a", True, "text in a numeric column"),
    ("unknown-label", "OperatingStatus", "Very good", True, "label not in the rubric"),
    ("unknown-label", "CreditRating", "aa+", True, "label not in the rubric"),
    ("negative", "Employees", -5, True, "impossible negative"),
    (
        "formula-text",
        "Name",
        '=HYPERLINK("http://example.com","Click me")',
        False,
        "a name that looks like a formula: valid text, must stay text",
    ),
    (
        "label-variant",
        "CreditRating",
        None,  # the row's own rating, lower case, a space either side: "A" -> " a "
        False,
        "a valid label in lower case with spaces around: must match the rubric",
    ),
)


# eq=False as in Ledger: DataFrame fields cannot be compared with ``==``.
@dataclass(eq=False)
class DemoLedger(Ledger):
    """A :class:`~xlcrm.ledger.Ledger` plus what the demo knows about it.

    Parameters
    ----------
    as_of : datetime.date
        The "today" the history ends on; the 12-month windows behind ``Revenue12m`` and
        ``PurchaseGrowth`` count back from it.
    planted_problems : tuple of PlantedProblem
        The planted cells (empty for a clean ledger).
    """

    as_of: dt.date = DEFAULT_TODAY
    planted_problems: tuple[PlantedProblem, ...] = ()


# --------------------------------------------------------------------------------------
# Vocabulary. Names are invented; any likeness to a real company is coincidence.

# name, share of customers, industry outlook bias, equipment intensity, (name stem, slug)
_INDUSTRIES: Final = (
    (
        "Construction",
        0.28,
        -0.3,
        1.4,
        (
            ("Construction Machinery Co.", "cm"),
            ("Construction Engineering Co., Ltd", "ce"),
            ("Road & Bridge Construction Co.", "rb"),
            ("Earthmoving Ltd", "earth"),
        ),
    ),
    (
        "Logistics",
        0.22,
        0.5,
        1.3,
        (
            ("Logistics Fleet Ltd", "fleet"),
            ("Transport Co., Ltd", "trans"),
            ("Freight Logistics Co.", "freight"),
            ("Heavy Haulage Ltd", "haulage"),
        ),
    ),
    (
        "Manufacturing",
        0.16,
        0.0,
        0.8,
        (
            ("Heavy Industry Co., Ltd", "hi"),
            ("Machinery Manufacturing Co.", "mfg"),
            ("Industrial Products Ltd", "ip"),
            ("Building Materials Co.", "bm"),
        ),
    ),
    (
        "Mining",
        0.12,
        -0.2,
        1.6,
        (
            ("Mining Co., Ltd", "mining"),
            ("Coal Industry Group", "coal"),
            ("Mining Equipment Co.", "mineq"),
        ),
    ),
    (
        "Municipal",
        0.12,
        0.3,
        1.0,
        (
            ("Municipal Engineering Co.", "muni"),
            ("Urban Construction Investment Co.", "ucic"),
            ("Sanitation Services Co.", "sanit"),
        ),
    ),
    (
        "Agriculture",
        0.10,
        0.2,
        0.6,
        (
            ("Agricultural Machinery Co.", "agm"),
            ("Agri-Development Co., Ltd", "agri"),
            ("Farm Machinery Cooperative", "farm"),
        ),
    ),
)

# region, share of customers, cities (a company named after a city sits in its region)
_REGIONS: Final = (
    ("North China", 0.18, ("Tangshan", "Shijiazhuang", "Baotou", "Taiyuan", "Handan", "Datong")),
    ("Northeast", 0.10, ("Shenyang", "Harbin", "Changchun", "Dalian", "Anshan")),
    (
        "East China",
        0.24,
        ("Xuzhou", "Jinan", "Linyi", "Weifang", "Ningbo", "Hefei", "Zibo", "Yantai", "Nanchang"),
    ),
    ("Central China", 0.16, ("Changsha", "Zhengzhou", "Wuhan", "Luoyang", "Xiangtan", "Zhuzhou")),
    ("South China", 0.12, ("Liuzhou", "Nanning", "Foshan", "Dongguan", "Quanzhou")),
    ("Southwest", 0.11, ("Chengdu", "Kunming", "Guiyang", "Zunyi", "Mianyang")),
    ("Northwest", 0.09, ("Xi'an", "Lanzhou", "Urumqi", "Yinchuan", "Xining")),
)

_BRANDS: Final = (
    "Hengda", "Zhongtai", "Huaxin", "Dongfang", "Jinma", "Tianrun", "Changjiang", "Huanghe",
    "Taishan", "Hongyuan", "Jiahe", "Xinda", "Ruifeng", "Baoli", "Longxin", "Shengli",
    "Yongfeng", "Fuxing", "Hualong", "Guangda", "Zhongcheng", "Kaiyuan", "Huitong", "Jinlong",
    "Dingsheng", "Minsheng", "Anxin", "Weiye", "Qiangsheng", "Haitian", "Tianma", "Xingfu",
    "Hongda", "Jintai", "Lianhe", "Shunda", "Tongda", "Wanfeng", "Xiangyun", "Yuantong",
    "Zhongxing", "Huadong", "Jiufeng", "Kunlun", "Lutong", "Mingyang", "Ronghua", "Sanhe",
    "Northern", "Eastern", "Southern", "Western", "Pacific", "Summit", "Great Plains",
    "Yellow River", "Golden Bridge", "Silver Star", "Red Star", "Blue Sky", "Evergreen",
    "Harmony", "Pioneer", "Unity", "Orient", "Phoenix", "Dragon Gate", "Iron Mountain",
    "Jade Valley", "Sunrise", "Heritage", "Landmark", "Keystone", "Highland", "Riverside",
    "Crossroads", "Milestone", "Cornerstone", "Bedrock", "Frontier",
)  # fmt: skip

_SURNAMES: Final = (
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou", "Xu", "Sun",
    "Ma", "Zhu", "Hu", "Guo", "He", "Lin", "Gao", "Luo", "Zheng", "Liang", "Xie", "Song",
    "Tang", "Han", "Feng", "Deng", "Cao", "Peng",
)  # fmt: skip
_GIVEN: Final = (
    "Wei", "Fang", "Na", "Min", "Jing", "Lei", "Jun", "Yang", "Yong", "Yan", "Jie", "Tao",
    "Ming", "Chao", "Xiuying", "Hui", "Qiang", "Ping", "Gang", "Hong", "Xin", "Bo", "Lin",
    "Peng", "Hao", "Dan", "Kai", "Rui", "Ting", "Zhiqiang", "Jianguo", "Haiyan", "Xiaoming",
    "Guoqing", "Lihua", "Dongmei", "Wenjie", "Yuxuan", "Zihan", "Junjie",
)  # fmt: skip
_ENGLISH_GIVEN: Final = (
    "David", "Michael", "Kevin", "Jason", "Tony", "Eric", "Vivian", "Grace", "Linda", "Cathy",
    "Frank", "Helen",
)  # fmt: skip
_PHONE_PREFIXES: Final = (
    "+86 138 ", "+86 139 ", "+86 135 ", "+86 136 ", "+86 137 ", "+86 150 ", "+86 151 ",
    "+86 158 ", "+86 159 ", "+86 186 ", "+86 187 ", "+86 188 ", "+86 189 ", "+86 177 ",
    "+86 10 ", "+86 21 ", "+86 516 ", "+86 731 ", "+86 29 ", "+86 471 ",
)  # fmt: skip
_AM_FIRST: Final = ("Zhang Wei", "Li Na", "Wang Fang", "Chen Jie", "Liu Yang", "Zhao Min")

# product, unit price, base gross margin (parts earn more than machines and bulk materials)
_PRODUCTS: Final = (
    ("Hydraulic hose assembly", 260.0, 0.42),
    ("Safety equipment kit", 320.0, 0.35),
    ("Brake pad set", 350.0, 0.36),
    ("Ready-mix concrete C30 (m3)", 410.0, 0.13),
    ("Engine filter kit", 420.0, 0.40),
    ("Cement P.O 42.5 (t)", 460.0, 0.14),
    ("Lubricant 18 L", 560.0, 0.30),
    ("Bucket teeth set", 680.0, 0.38),
    ("Welding consumables box", 980.0, 0.30),
    ("Track roller", 1250.0, 0.35),
    ("Bearing set", 1450.0, 0.33),
    ("Tyre 12R22.5", 1980.0, 0.18),
    ("Maintenance service package", 3200.0, 0.45),
    ("Rebar HRB400 (t)", 3900.0, 0.07),
    ("Steel pipe (t)", 4600.0, 0.08),
    ("Turbocharger", 6800.0, 0.28),
    ("Hydraulic pump", 8600.0, 0.32),
    ("Boom cylinder", 14200.0, 0.26),
    ("Gearbox assembly", 23500.0, 0.24),
    ("Mini excavator", 168000.0, 0.12),
    ("Wheel loader 5 t", 325000.0, 0.11),
    ("Heavy truck 6x4 tractor", 385000.0, 0.09),
    ("Dump truck 8x4", 420000.0, 0.08),
    ("Mixer truck", 460000.0, 0.09),
)
_PRODUCT_NAMES: Final = np.array([p[0] for p in _PRODUCTS], dtype=object)
_PRICE_CENTS: Final = np.array([round(p[1] * 100) for p in _PRODUCTS], dtype=np.int64)
_MARGINS: Final = np.array([p[2] for p in _PRODUCTS])

# Order values by month: the building season peaks in spring; Spring Festival empties February.
_SEASON: Final = np.array([0.8, 0.6, 1.15, 1.25, 1.2, 1.1, 0.95, 0.9, 1.05, 1.1, 1.0, 0.9])

_VISIT_TOPICS: Final = (
    "reviewed next quarter's parts demand",
    "inspected the fleet on site",
    "presented the new hydraulic parts line",
    "negotiated the annual price agreement",
    "discussed overdue invoices",
    "offered a maintenance contract",
    "met the new purchasing manager",
    "collected feedback on deliveries",
)
_CALL_TOPICS: Final = (
    "order follow-up",
    "quotation for filters and wear parts",
    "payment reminder",
    "delivery schedule confirmed",
    "stock enquiry",
    "invitation to the product day",
)
_COMPLAINT_ISSUES: Final = (
    "late delivery",
    "wrong part shipped",
    "pump failed within warranty",
    "invoice error",
    "slow service response",
    "damaged packaging",
)
_COMPLAINT_FIXES: Final = (
    "replacement shipped",
    "credit note issued",
    "repaired under warranty",
    "apology and discount on next order",
)
_SERVICE_JOBS: Final = (
    "scheduled maintenance",
    "on-site repair",
    "warranty inspection",
    "operator training",
    "hydraulic system diagnosis",
)

_DAY0: Final = dt.date(1970, 1, 1)
_CV2_ORDER: Final = float(np.expm1(0.5**2))  # squared coefficient of variation of one order
_MAX_MANAGERS: Final = 200


# --------------------------------------------------------------------------------------
# Public helpers


def growth_rate(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """Purchase growth of the last 12 months against the 12 months before.

    Parameters
    ----------
    current, previous : array_like
        Revenue of the last 12 months and of the 12 months before (non-negative).

    Returns
    -------
    numpy.ndarray
        ``(current - previous) / previous`` capped at :data:`GROWTH_CAP`; :data:`GROWTH_CAP`
        for a new customer (``previous == 0 < current``); ``-1.0`` for a lapsed customer
        (``current == 0``, whatever came before). Never a division by zero.
    """
    cur = np.asarray(current, dtype=float)
    prev = np.asarray(previous, dtype=float)
    ratio = np.divide(cur - prev, prev, out=np.zeros_like(cur), where=prev > 0)
    return np.where(cur <= 0, -1.0, np.where(prev > 0, np.minimum(ratio, GROWTH_CAP), GROWTH_CAP))


def make_ledger(
    n_customers: int = 300,
    *,
    seed: int = 7,
    today: dt.date | None = None,
    dirty: bool = True,
    history: bool = True,
    months: int = DEFAULT_MONTHS,
    orders_per_customer: float = DEFAULT_ORDERS_PER_CUSTOMER,
    type_computed: bool = True,
) -> DemoLedger:
    """A realistic synthetic ledger: customers, orders, contacts and survey answers.

    Parameters
    ----------
    n_customers : int
        Number of customers (rows of ``Customers``), at least 1.
    seed : int
        Seed of the random generator; the same arguments give the same ledger.
    today : datetime.date, optional
        Last day of the history; default :data:`DEFAULT_TODAY` (fixed, for a reproducible
        demo).
    dirty : bool
        Plant the bad cells of :data:`PLANTED_PROBLEMS` into ``Customers`` (default).
    history : bool
        Generate ``Transactions``, ``Interactions`` and ``Survey``. Without history they are
        empty (with their columns) and ``Customers`` comes from :func:`make_customers`.
    months : int
        Length of the history in months, at least 24 (two 12-month windows).
    orders_per_customer : float
        Mean number of orders per customer over the whole history, at least 1 (every
        customer has at least one order). The default 10 gives about 3 000 orders for 300
        customers; 2.8 gives a retail-like 70 000 orders for 25 000 customers. Contact
        frequencies scale with it (:func:`fit_history` finds the rate that fits a sheet).
    type_computed : bool
        Type the ``Customers`` columns xlcrm computes from the history
        (:data:`COMPUTED_COLUMNS`; default). ``False`` leaves them blank, as the demo
        workbook does: a real ledger keeps each order once, on ``Transactions``, and an
        import of new orders then moves the scores.

    Returns
    -------
    DemoLedger
        The four tables (columns as in :mod:`xlcrm.schema`; see the module docstring for how
        the derived ``Customers`` columns are defined), the history's end date and the
        planted problems.

    Raises
    ------
    InputError
        For a customer count, history length or order rate that cannot be generated.
    """
    as_of = _as_date(today)
    _check_args(n_customers, seed, months, orders_per_customer)
    if not history:
        customers = make_customers(
            n_customers,
            seed=seed,
            today=as_of,
            dirty=False,
            months=months,
            orders_per_customer=orders_per_customer,
        )
        tables = (_empty(schema.TRANSACTION_COLUMNS), _empty(schema.INTERACTION_COLUMNS))
        tables += (_empty(SURVEY_COLUMNS),)
    else:
        rngs = _streams(seed)
        ident = _identity(n_customers, rngs["identity"])
        model = _model(ident, rngs["latent"], as_of, months, orders_per_customer)
        tx = _history(model, rngs["history"])
        inter, complaints12 = _interactions(model, ident, rngs["interactions"])
        inter = _with_planned_contacts(inter, model, rngs["planned"])
        responded, survey_day, answers = _survey_draws(model, rngs["survey"], complaints12)

        in_last = tx["day"] > model.y1
        in_prev = (tx["day"] > model.y2) & ~in_last
        rev = np.bincount(tx["cust"], np.where(in_last, tx["amount"], 0), n_customers)
        prev = np.bincount(tx["cust"], np.where(in_prev, tx["amount"], 0), n_customers)
        gp = np.bincount(tx["cust"], np.where(in_last, tx["gp"], 0), n_customers)
        orders12 = np.bincount(tx["cust"][in_last], minlength=n_customers)
        # Integer-valued float sums stay exact far beyond any plausible ledger (2**53 cents).
        customers = _customers_frame(
            ident, model, rev, prev, gp, orders12, _satisfaction(responded, answers)
        )
        tables = (
            _transactions_frame(ident, tx),
            _interactions_frame(ident, inter),
            _survey_frame(ident, responded, survey_day, answers),
        )
        contacts = _contacts_frame(ident, model, seed)
    if not type_computed:
        for column in COMPUTED_COLUMNS:
            customers[column] = np.nan
    planted: tuple[PlantedProblem, ...] = ()
    if dirty:
        planted = _plant(customers, seed)
    if not history:
        contacts = _empty(schema.CONTACT_SHEET_COLUMNS)
    return DemoLedger(customers, *tables, contacts=contacts, as_of=as_of,
                      planted_problems=planted)


def make_customers(
    n_customers: int = 300,
    *,
    seed: int = 7,
    today: dt.date | None = None,
    dirty: bool = True,
    months: int = DEFAULT_MONTHS,
    orders_per_customer: float = DEFAULT_ORDERS_PER_CUSTOMER,
) -> pd.DataFrame:
    """The ``Customers`` table alone, drawn from the same model without a history.

    The identity columns and the directly drawn indicators (operating status, employees,
    equipment value, credit rating, industry outlook, days to pay) equal those of
    :func:`make_ledger` for the same arguments; the derived columns (revenue, gross profit,
    unit profit, growth, headroom, satisfaction) are drawn from the same order, complaint and
    survey model in summary (order counts per 12-month window, then their total value), so
    they follow the same distributions without the tables behind them. Fast: 1.3 to 2 s for
    1 048 576 customers on a 2-core machine.

    Parameters
    ----------
    n_customers, seed, today, dirty, months, orders_per_customer
        As for :func:`make_ledger`. With ``dirty`` the table is
        ``plant_problems(make_customers(..., dirty=False), seed=seed)[0]``; call
        :func:`plant_problems` yourself to get the list of planted cells.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`CUSTOMER_COLUMNS`.
    """
    as_of = _as_date(today)
    _check_args(n_customers, seed, months, orders_per_customer)
    rngs = _streams(seed)
    ident = _identity(n_customers, rngs["identity"])
    model = _model(ident, rngs["latent"], as_of, months, orders_per_customer)
    rev, prev, gp, orders12, complaints12 = _summary(model, rngs["summary"])
    responded, _, answers = _survey_draws(model, rngs["survey"], complaints12)
    customers = _customers_frame(
        ident, model, rev, prev, gp, orders12, _satisfaction(responded, answers)
    )
    if dirty:
        _plant(customers, seed)
    return customers


@dataclass(frozen=True)
class HistoryFit:
    """The order rate at which a synthetic history fits on its sheets.

    Attributes
    ----------
    customers : int
        Number of customers.
    requested : float
        Orders per customer asked for.
    orders_per_customer : float
        Orders per customer to generate: ``requested``, or less when a history sheet would
        pass ``max_rows`` (contact frequencies scale with it, see :func:`make_ledger`).
    expected_rows : dict of str to int
        Expected rows of ``Transactions`` and ``Interactions`` at the *requested* rate.
    max_rows : int
        Rows a sheet may hold below its header.
    """

    customers: int
    requested: float
    orders_per_customer: float
    expected_rows: dict[str, int]
    max_rows: int

    @property
    def scaled(self) -> bool:
        """True when the history was scaled down to fit."""
        return self.orders_per_customer < self.requested

    @property
    def note(self) -> str:
        """One sentence for the user when the history was scaled down, else ``""``."""
        if not self.scaled:
            return ""
        sheet, rows = max(self.expected_rows.items(), key=lambda kv: kv[1])
        return (
            f"History scaled down to fit Excel's {self.max_rows + 1:,} rows per sheet: "
            f"{self.customers:,} customers at {self.requested:g} orders each would need about "
            f"{rows:,} rows on {sheet}, so they have {self.orders_per_customer:.2f} orders "
            "each on average (and proportionally fewer contacts)."
        )


#: Share of a sheet the expected rows may fill: the counts are Poisson sums, whose standard
#: deviation at a million rows is about a thousand, so 1 % keeps ten of them in reserve.
_FILL: Final = 0.99


def fit_history(
    n_customers: int,
    *,
    seed: int = 7,
    today: dt.date | None = None,
    months: int = DEFAULT_MONTHS,
    orders_per_customer: float = DEFAULT_ORDERS_PER_CUSTOMER,
    max_rows: int = EXCEL_DATA_ROWS,
) -> HistoryFit:
    """The order rate at which :func:`make_ledger`'s history fits ``max_rows`` per sheet.

    Cheap (the latent model only, no history), so that a ledger too large for a workbook is
    refused or scaled *before* any work. The expected row counts are exact expectations of
    the generator (orders: ``n_customers * orders_per_customer``; contacts: the sum of each
    customer's Poisson rates over its active span), and the rate chosen leaves 1 % of the
    sheet in reserve against chance. At the lowest rate (one order per customer) every
    customer count up to ``max_rows`` fits, since contacts are then far fewer than orders.

    Parameters
    ----------
    n_customers, seed, today, months, orders_per_customer
        As for :func:`make_ledger`.
    max_rows : int
        Rows a sheet may hold below its header row (default: Excel's limit).

    Returns
    -------
    HistoryFit

    Raises
    ------
    InputError
        When the customers alone do not fit on one sheet, or for arguments
        :func:`make_ledger` would refuse.
    """
    as_of = _as_date(today)
    _check_args(n_customers, seed, months, orders_per_customer)
    if n_customers > max_rows:
        raise InputError(
            f"{n_customers:,} customers do not fit on the Customers sheet: Excel holds "
            f"{max_rows:,} rows below the header",
            fix=f"Ask for at most {max_rows:,} customers.",
        )
    rngs = _streams(seed)
    model = _model(_identity(n_customers, rngs["identity"]), rngs["latent"], as_of, months,
                   orders_per_customer)
    spans = _contact_spans(model)
    contacts = sum(
        float((rate * np.maximum(spans[kind][1] - spans[kind][0] + 1, 1) / 365.25).sum())
        for kind, rate in _contact_rates(model).items()
    )
    # The planned calls (an upper bound: a call before the customer's first day is left out).
    contacts += PLANNED_CALLS * min(1.0, model.activity) * float(_served(model).sum())
    expected = {
        schema.TRANSACTIONS: round(n_customers * orders_per_customer),
        schema.INTERACTIONS: round(contacts),
    }
    # Both grow in proportion to the rate (contacts through ``activity``; orders exactly).
    room = _FILL * max_rows / max(expected.values())
    rate = orders_per_customer if room >= 1 else max(1.0, orders_per_customer * room)
    return HistoryFit(n_customers, float(orders_per_customer), float(rate), expected, max_rows)


def plant_problems(
    customers: pd.DataFrame, *, seed: int
) -> tuple[pd.DataFrame, tuple[PlantedProblem, ...]]:
    """Write the cells of :data:`PLANTED_PROBLEMS` into a copy of a clean ``Customers`` table.

    Parameters
    ----------
    customers : pandas.DataFrame
        A clean table with :data:`CUSTOMER_COLUMNS` (from ``dirty=False``).
    seed : int
        Chooses the rows: one distinct row per planted entry (the first ``len(customers)``
        entries when there are fewer rows than entries).

    Returns
    -------
    (pandas.DataFrame, tuple of PlantedProblem)
        The dirty copy (a numeric column receiving text becomes an ``object`` column, as it
        would read from a sheet) and the planted cells.
    """
    out = customers.copy()
    return out, _plant(out, seed)


def _plant(out: pd.DataFrame, seed: int) -> tuple[PlantedProblem, ...]:
    """Plant in place (no copy of a million-row table when the caller owns it)."""
    n_planted = min(len(out), len(PLANTED_PROBLEMS))
    rows = _streams(seed)["plant"].choice(len(out), size=n_planted, replace=False)
    planted = []
    for (kind, column, value, reported, note), row in zip(
        PLANTED_PROBLEMS[:n_planted], rows.tolist(), strict=True
    ):
        original = out[column].iat[row]
        if isinstance(original, np.generic):
            original = original.item()
        if kind == "label-variant":
            # The same label, typed differently: the cell's meaning must not change.
            value = f" {str(original).lower()} "
        if value is None:
            # Blank cells read as NaN in numeric and in str columns alike.
            out.loc[out.index[row], column] = np.nan
        else:
            if not _accepts(out[column], value):
                out[column] = out[column].astype(object)
            out.loc[out.index[row], column] = value
        planted.append(
            PlantedProblem(
                kind=kind,
                column=column,
                row=int(row),
                customer_id=str(out[schema.CUSTOMER_ID].iat[row]),
                value=value,
                original=original,
                reported=reported,
                note=note,
            )
        )
    return tuple(planted)


# --------------------------------------------------------------------------------------
# Arguments and small utilities


def _as_date(today: dt.date | None) -> dt.date:
    if today is None:
        return DEFAULT_TODAY
    if isinstance(today, dt.datetime):
        return today.date()
    return today


def _check_args(n: int, seed: int, months: int, orders_per_customer: float) -> None:
    problems = []
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
        problems.append(f"the number of customers must be a whole number of at least 1, got {n!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        problems.append(f"the seed must be a whole number of at least 0, got {seed!r}")
    if isinstance(months, bool) or not isinstance(months, int | np.integer) or months < 24:
        problems.append(
            f"the history must cover at least 24 months (two 12-month windows), got {months!r}"
        )
    if not isinstance(orders_per_customer, int | float) or not orders_per_customer >= 1:
        problems.append(
            f"orders per customer must be a number of at least 1, got {orders_per_customer!r}"
        )
    if problems:
        raise InputError(
            "; ".join(problems),
            fix="Use for example 300 customers, seed 7, 36 months and 10 orders per customer.",
        )


_CONTACTS_STREAM: Final = 1507
"""Spawn key of the Contacts draws: a generator apart from :func:`_streams`, so that adding
the buying center changed no figure of the other tables."""


def _contacts_frame(ident: _Identity, m: _Model, seed: int) -> pd.DataFrame:
    """The buying center of each customer (module docstring), drawn for all rows at once.

    Names never repeat an account manager's (a masked copy must not show a contact's name
    in the AccountManager column) nor another person of the same customer.
    """
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_CONTACTS_STREAM,)))
    people, locals_ = _people_tables()
    pool = np.flatnonzero(~np.isin(people, ident.managers))
    size = 2 + np.minimum(rng.binomial(3, 1 / (1 + np.exp(-0.8 * m.z_size - 0.2))), 3)
    dm_known = rng.random(m.n) < 1 / (1 + np.exp(-(1.1 + 0.9 * m.z_size)))
    cust = np.repeat(np.arange(m.n), size)
    slot = np.arange(cust.size) - np.repeat(np.cumsum(size) - size, size)
    # The main contact decides at about a third of the customers with a known decider, else
    # buys; then the decider (when known and not the main contact), influencer, user ...
    first_dm = dm_known & (rng.random(m.n) < 0.35)
    roles = np.empty((m.n, 5), dtype=object)
    roles[:, 0] = np.where(first_dm, "decision maker", "buyer")
    later = np.array(["influencer", "user", "gatekeeper", "buyer"], dtype=object)
    with_dm = np.array(["decision maker", "influencer", "user", "gatekeeper"], dtype=object)
    roles[:, 1:] = np.where((dm_known & ~first_dm)[:, None], with_dm, later)
    role = roles[cust, slot]
    # Stance: the customer's health and the person's own view.
    mood = 0.8 * m.z_health[cust] + rng.standard_normal(cust.size)
    stance = np.where(mood > 0.2, "supporter", np.where(mood < -1.7, "opponent", "neutral"))
    seen = rng.exponential(np.where(role == "decision maker", 120.0, 60.0)).astype(np.int64)
    last = _to_weekday(m.today - np.minimum(seen, 700))
    name, phone, email = _contact_people(rng, ident, cust, slot, pool, people, locals_)
    return pd.DataFrame({
        "CustomerID": ident.ids[cust], "Name": name, "Role": role.astype(object),
        "Stance": stance.astype(object), "Phone": phone, "Email": email,
        "LastContact": pd.Series(_to_datetime(last)).astype("datetime64[s]"),
    }, columns=list(schema.CONTACT_SHEET_COLUMNS))


def _contact_people(
    rng: np.random.Generator, ident: _Identity, cust: np.ndarray, slot: np.ndarray,
    pool: np.ndarray, people: np.ndarray, locals_: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Name, phone and e-mail per row: the Customers contact first, then people drawn from
    ``pool`` (redrawn where one would repeat a person of the same customer)."""
    pick = pool[rng.integers(0, pool.size, cust.size)]
    main = ident.columns["Contact"][cust]
    for _ in range(50):
        key = pd.Series(cust * people.size + pick)
        clash = (slot > 0) & (key.duplicated().to_numpy() | (people[pick] == main))
        if not clash.any():
            break
        pick[clash] = pool[rng.integers(0, pool.size, int(clash.sum()))]
    prefix = np.array(_PHONE_PREFIXES, dtype=object)[rng.integers(0, len(_PHONE_PREFIXES),
                                                                  cust.size)]
    digits = rng.integers(0, 10_000, (cust.size, 2))
    domain = np.array([e.split("@")[-1] for e in ident.columns["Email"]], dtype=object)[cust]
    is_main = slot == 0
    name = np.where(is_main, main, people[pick])
    four = np.array([f"{i:04d}" for i in range(10_000)], dtype=object)
    phone = prefix + four[digits[:, 0]] + " " + four[digits[:, 1]]
    phone = np.where(is_main, ident.columns["Phone"][cust], phone)
    email = np.where(is_main, ident.columns["Email"][cust], locals_[pick] + "@" + domain)
    return name.astype(object), phone.astype(object), email.astype(object)


def _streams(seed: int) -> dict[str, np.random.Generator]:
    # Independent streams per purpose: make_customers and make_ledger share the identity,
    # latent and survey draws, and planting never shifts the clean data.
    # New purposes go at the end: spawned children keep their order, so the others' draws
    # do not move.
    names = ("identity", "latent", "history", "interactions", "survey", "summary", "plant",
             "planned")
    children = np.random.SeedSequence(seed).spawn(len(names))
    return {name: np.random.default_rng(s) for name, s in zip(names, children, strict=True)}


def _day_number(day: dt.date) -> int:
    return (day - _DAY0).days


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _months_before(day: dt.date, months: int) -> dt.date:
    return (pd.Timestamp(day) - pd.DateOffset(months=months)).date()


def _to_weekday(days: np.ndarray) -> np.ndarray:
    """Move Saturdays and Sundays back to the Friday before (never later, so never past today)."""
    dow = (days + 3) % 7  # day 0 (1970-01-01) was a Thursday; Monday = 0
    return days - np.maximum(dow - 4, 0)


def _to_datetime(days: np.ndarray) -> np.ndarray:
    return days.astype("datetime64[D]").astype("datetime64[s]")


def _overlap(start: np.ndarray, end: np.ndarray, lo: int, hi: int) -> np.ndarray:
    """Days of [start, end] inside [lo, hi], both inclusive."""
    return np.maximum(np.minimum(end, hi) - np.maximum(start, lo) + 1, 0)


def _top_k(score: np.ndarray, eligible: np.ndarray, share: float) -> np.ndarray:
    """Mask of the ``share`` of all rows with the highest score among the eligible."""
    k = min(round(share * score.size), int(eligible.sum()))
    mask = np.zeros(score.size, dtype=bool)
    if k > 0:
        masked = np.where(eligible, score, -np.inf)
        mask[np.argpartition(-masked, k - 1)[:k]] = True
    return mask


def _text(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="str")


def _empty(columns: tuple[str, ...]) -> pd.DataFrame:
    dtypes: dict[str, Any] = {"Date": "datetime64[s]", "ResolvedDate": "datetime64[s]"}
    dtypes |= {"Amount": float, "GrossProfit": float, "Quantity": np.int64}
    dtypes |= {q: np.int64 for q in SURVEY_QUESTIONS}
    return pd.DataFrame({c: pd.Series([], dtype=dtypes.get(c, "str")) for c in columns})


def _accepts(column: pd.Series, value: Any) -> bool:
    if isinstance(value, str):
        return pd.api.types.is_string_dtype(column.dtype) or column.dtype == object
    return pd.api.types.is_numeric_dtype(column.dtype) or column.dtype == object


# --------------------------------------------------------------------------------------
# Identity: IDs, names, places, people


@dataclass(frozen=True)
class _Directory:
    """Every company one industry's customers can be: name, contact, phone, e-mail, region.

    A company keeps its contact details wherever it appears (a fixed generator builds the
    directory once); customers then pick rows by index, which costs nothing per customer.
    """

    name: np.ndarray
    contact: np.ndarray
    phone: np.ndarray
    email: np.ndarray
    region: np.ndarray  # index into _REGIONS; -1 for a name without a city


@lru_cache(maxsize=1)
def _directories() -> tuple[tuple[_Directory, _Directory], ...]:
    """Per industry: (companies named without a city, companies named after a city)."""
    rng = np.random.default_rng(20261031)
    people, locals_ = _people_tables()
    cities = [("", "", -1)] + [
        (f"{c} ", c.lower().replace("'", ""), r)
        for r, (_, _, cs) in enumerate(_REGIONS)
        for c in cs
    ]
    tlds = (".com.cn", ".com", ".cn")
    out = []
    for _, _, _, _, stems in _INDUSTRIES:
        rows = [
            (f"{city}{brand} {stem}", f"{city_slug}{brand.lower().replace(' ', '')}-{slug}", r)
            for city, city_slug, r in cities
            for brand in _BRANDS
            for stem, slug in stems
        ]
        person = rng.integers(0, people.size, len(rows))
        prefix = rng.integers(0, len(_PHONE_PREFIXES), len(rows))
        digits = rng.integers(0, 10_000, (len(rows), 2))
        tld = rng.integers(0, len(tlds), len(rows))
        region = np.array([row[2] for row in rows], dtype=np.int64)
        directory = _Directory(
            name=np.array([row[0] for row in rows], dtype=object),
            contact=people[person],
            phone=np.array(
                [
                    f"{_PHONE_PREFIXES[p]}{d[0]:04d} {d[1]:04d}"
                    for p, d in zip(prefix.tolist(), digits.tolist(), strict=True)
                ],
                dtype=object,
            ),
            email=np.array(
                [
                    f"{locals_[p]}@{row[1]}{tlds[t]}"
                    for p, row, t in zip(person.tolist(), rows, tld.tolist(), strict=True)
                ],
                dtype=object,
            ),
            region=region,
        )
        plain = region < 0
        out.append(
            tuple(
                _Directory(*(getattr(directory, f)[mask] for f in _Directory.__dataclass_fields__))
                for mask in (plain, ~plain)
            )
        )
    return tuple(out)


@lru_cache(maxsize=1)
def _people_tables() -> tuple[np.ndarray, np.ndarray]:
    """Contact names and the matching e-mail local parts."""
    names, locals_ = [], []
    for surname in _SURNAMES:
        for given in _GIVEN:
            names.append(f"{surname} {given}")
            locals_.append(f"{surname}.{given}".lower())
        for given in _ENGLISH_GIVEN:
            names.append(f"{given} {surname}")
            locals_.append(f"{given}.{surname}".lower())
    return np.array(names, dtype=object), np.array(locals_, dtype=object)


def _manager_names(n_managers: int) -> list[str]:
    people = [str(p) for p in _people_tables()[0]]
    extra = [p for p in people[::7] if p not in _AM_FIRST]
    return (list(_AM_FIRST) + extra)[:n_managers]


@dataclass
class _Identity:
    n: int
    ids: np.ndarray  # object array of str
    industry: np.ndarray  # index into _INDUSTRIES
    region: np.ndarray  # index into _REGIONS
    manager: np.ndarray  # index into managers
    managers: list[str]
    columns: dict[str, np.ndarray]


def _sample(rng: np.random.Generator, pool: int, k: int) -> np.ndarray:
    # Distinct names while the pool allows it; repeats only in ledgers too big for the pool.
    if k <= pool:
        return rng.choice(pool, size=k, replace=False)
    return rng.integers(0, pool, size=k)


def _identity(n: int, rng: np.random.Generator) -> _Identity:
    width = max(4, len(str(n)))
    ids = np.array(list(map(f"C%0{width}d".__mod__, range(1, n + 1))), dtype=object)

    shares = np.array([ind[1] for ind in _INDUSTRIES])
    industry = rng.choice(len(_INDUSTRIES), size=n, p=shares / shares.sum())
    region_shares = np.array([r[1] for r in _REGIONS])
    region = rng.choice(len(_REGIONS), size=n, p=region_shares / region_shares.sum())
    has_city = rng.random(n) < 0.55

    columns = {"CustomerID": ids}
    columns |= {c: np.empty(n, dtype=object) for c in ("Name", "Contact", "Phone", "Email")}
    for i, pools in enumerate(_directories()):
        for city, pool in zip((False, True), pools, strict=True):
            pos = np.flatnonzero((industry == i) & (has_city == city))
            pick = _sample(rng, pool.name.size, pos.size)
            for column, table in zip(
                ("Name", "Contact", "Phone", "Email"),
                (pool.name, pool.contact, pool.phone, pool.email),
                strict=True,
            ):
                columns[column][pos] = table[pick]
            if city:  # a company named after a city sits in that city's region
                region[pos] = pool.region[pick]

    n_managers = int(np.clip(round(n / 50), 3, _MAX_MANAGERS))
    managers = _manager_names(n_managers)
    # Managers work in regional teams: region r maps onto a contiguous band of managers.
    band = (region + rng.random(n)) * n_managers / len(_REGIONS)
    manager = np.minimum(band.astype(np.int64), n_managers - 1)

    columns["Industry"] = np.array([ind[0] for ind in _INDUSTRIES], dtype=object)[industry]
    columns["Region"] = np.array([r[0] for r in _REGIONS], dtype=object)[region]
    columns["AccountManager"] = np.array(managers, dtype=object)[manager]
    return _Identity(n, ids, industry, region, manager, managers, columns)


# --------------------------------------------------------------------------------------
# The latent model


@dataclass
class _Model:
    n: int
    today: int  # day numbers (days since 1970-01-01)
    first_day: int  # first day of the history
    y1: int  # today - 1 year: the last 12 months are (y1, today]
    y2: int  # today - 2 years: the 12 months before are (y2, y1]
    activity: float  # contact frequencies relative to the default ledger
    z_size: np.ndarray
    z_health: np.ndarray
    z_service: np.ndarray
    start: np.ndarray  # first and last active day, inclusive
    end: np.ndarray
    anchored: np.ndarray  # first order on the start day (customers won during the history)
    extra_orders: np.ndarray  # expected orders beyond the first over [start, end]
    order_value: np.ndarray  # mean order value before discount
    trend: np.ndarray  # yearly log-trend of order values
    discount: np.ndarray
    wallet: np.ndarray  # yearly purchases of our kind of goods, from all suppliers
    equipment_intensity: np.ndarray
    columns: dict[str, np.ndarray]  # the indicators drawn directly


def _cut(score: np.ndarray, shares: tuple[float, ...], labels: tuple[str, ...]) -> np.ndarray:
    """Ordinal labels (best first) from a unit-variance score: the best for the highest."""
    # Fixed normal quantiles rather than the sample's own: each label keeps its share at any n.
    edges = ndtri(np.cumsum(shares[::-1])[:-1])
    return np.array(labels[::-1], dtype=object)[np.searchsorted(edges, score)]


def _model(
    ident: _Identity, rng: np.random.Generator, today: dt.date, months: int, opc: float
) -> _Model:
    n = ident.n
    t = _day_number(today)
    first = _day_number(_months_before(today, months)) + 1
    y1 = _day_number(_years_before(today, 1))
    y2 = _day_number(_years_before(today, 2))

    e = rng.standard_normal((15, n))
    u = rng.random((3, n))
    share = np.maximum(rng.beta(2.0, 2.5, n), 0.08)

    z_size = e[0]
    z_health = 0.3 * z_size + np.sqrt(1 - 0.3**2) * e[1]
    z_service = 0.3 * z_health + np.sqrt(1 - 0.3**2) * e[2]

    # Life cycle: established all along (66 %), won during the history (24 %), new this year.
    start = np.full(n, first, dtype=np.int64)
    won = (u[0] >= 0.66) & (u[0] < 0.90)
    new = u[0] >= 0.90
    start[won] = first + (u[1][won] * (y1 - 60 - first)).astype(np.int64)
    start[new] = y1 + 1 + (u[1][new] * (t - 14 - y1)).astype(np.int64)
    anchored = won | new

    # Lapsed (no order for over a year) and fading (silent 3-9 months): mostly the unhealthy.
    end = np.full(n, t, dtype=np.int64)
    lapsed = _top_k(-z_health + 1.2 * e[3], start <= t - 455, 0.12)
    lo = np.maximum(start[lapsed], first) + 30
    end[lapsed] = lo + (u[2][lapsed] * (t - 380 - lo)).astype(np.int64)
    fading = _top_k(-z_health + 1.2 * e[4], (start <= t - 300) & ~lapsed, 0.07)
    end[fading] = t - 270 + (u[2][fading] * 180).astype(np.int64)

    years = (end - start + 1) / 365.25
    industry = ident.industry
    outlook_bias = np.array([ind[2] for ind in _INDUSTRIES])[industry]
    intensity = np.array([ind[3] for ind in _INDUSTRIES])[industry]

    spend = np.exp(np.log(150_000) + 1.25 * z_size + 0.35 * z_health + 0.55 * e[5])
    rel_freq = np.exp(0.45 * z_size + 0.35 * e[6])
    lam = rel_freq * years
    # Scale so that the mean order count (1 + Poisson(extra)) is orders_per_customer.
    extra = lam * ((opc - 1) * n / lam.sum())
    freq = (1 + extra) / years
    order_value = spend / freq

    employees = np.maximum(np.rint(np.exp(3.9 + 1.15 * z_size + 0.35 * e[7])), 3)
    equipment = np.exp(0.9 * np.log(employees) + np.log(90_000 * intensity) + 0.5 * e[8])
    outlook_score = outlook_bias + 0.3 * z_health + 0.8 * e[9]
    outlook = np.array(INDUSTRY_OUTLOOK_LABELS[::-1], dtype=object)[
        np.searchsorted([-0.6, 0.6], outlook_score)
    ]
    days_to_pay = np.clip(45 - 16 * z_health + 8 * e[10], 3, 150)

    columns = {
        "OperatingStatus": _cut(
            (z_health + 0.5 * e[11]) / np.sqrt(1.25), (0.18, 0.42, 0.28, 0.12),
            OPERATING_STATUS_LABELS,
        ),
        "Employees": employees.astype(np.int64),
        "EquipmentValue": np.round(equipment, -3),
        "CreditRating": _cut(
            (0.8 * z_health + 0.3 * z_size + 0.5 * e[12]) / np.sqrt(1.124),
            (0.05, 0.12, 0.23, 0.27, 0.18, 0.10, 0.05),
            CREDIT_RATING_LABELS,
        ),
        "IndustryOutlook": outlook,
        "DaysToPay": np.round(days_to_pay, 1),
    }  # fmt: skip
    return _Model(
        n=n,
        today=t,
        first_day=first,
        y1=y1,
        y2=y2,
        activity=opc / DEFAULT_ORDERS_PER_CUSTOMER,
        z_size=z_size,
        z_health=z_health,
        z_service=z_service,
        start=start,
        end=end,
        anchored=anchored,
        extra_orders=extra,
        order_value=order_value,
        trend=0.03 + 0.08 * outlook_score + 0.08 * z_health + 0.12 * e[13],
        discount=np.clip(0.04 + 0.025 * z_size + 0.01 * e[14], 0.0, 0.15),
        wallet=spend / share,
        equipment_intensity=intensity,
        columns=columns,
    )


# --------------------------------------------------------------------------------------
# History: orders, contacts, survey


def _history(m: _Model, rng: np.random.Generator) -> dict[str, np.ndarray]:
    counts = 1 + rng.poisson(m.extra_orders)
    cust = np.repeat(np.arange(m.n), counts)
    first_rows = np.cumsum(counts) - counts
    # Each customer orders at its own rhythm: evenly spaced over its active span with a
    # random phase and +-30 % jitter (B2B replenishment is regular, not a Poisson process;
    # the regularity is what the churn warning's "usual interval" measures).
    interval = (m.end - m.start + 1) / counts
    phase = np.where(m.anchored, 0.0, rng.random(m.n))  # anchored: first order on the start
    jitter = 0.6 * (rng.random(cust.size) - 0.5)
    jitter[first_rows[m.anchored]] = 0.0
    k = np.arange(cust.size) - first_rows[cust]
    offset = (np.maximum(k + phase[cust] + jitter, 0) * interval[cust]).astype(np.int64)
    day = _to_weekday(m.start[cust] + np.minimum(offset, (m.end - m.start)[cust]))

    month = day.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64) % 12
    # Mean of lognormal(0, 0.5) is exp(0.125): divide it out so order values average right.
    target = (
        m.order_value[cust]
        * np.exp(0.5 * rng.standard_normal(cust.size) - 0.125)
        * np.exp(m.trend[cust] * (day - m.today) / 365.25)
        * _SEASON[month]
    )
    # A product the order can afford, in a quantity up to a few hundred.
    prices = _PRICE_CENTS / 100
    hi = np.clip(np.searchsorted(prices, target, side="right"), 1, prices.size)
    lo = np.minimum(np.searchsorted(prices, target / 300), hi - 1)
    product = lo + (rng.random(cust.size) * (hi - lo)).astype(np.int64)
    quantity = np.maximum(np.rint(target / prices[product]), 1).astype(np.int64)
    discount = m.discount[cust]
    amount = np.rint(quantity * _PRICE_CENTS[product] * (1 - discount))
    margin = _MARGINS[product] - 0.8 * discount + 0.03 * rng.standard_normal(cust.size)
    gp = np.rint(amount * np.clip(margin, 0.02, 0.6))

    order = np.lexsort((cust, day))
    return {
        "cust": cust[order],
        "day": day[order],
        "amount": amount[order],  # cents, integer-valued floats
        "gp": gp[order],
        "quantity": quantity[order],
        "product": product[order],
    }


def _contact_rates(m: _Model) -> dict[str, np.ndarray]:
    """Expected contacts per year while a customer is active, by kind."""
    return {
        "visit": m.activity * 2.0 * np.exp(0.5 * m.z_size),
        "call": m.activity * 2.5 * np.exp(0.3 * m.z_size),
        "complaint": m.activity * 0.3 * np.exp(0.4 * m.z_size - 0.7 * m.z_service),
        "service": m.activity * 0.6 * m.equipment_intensity * np.exp(0.4 * m.z_size),
    }


def _contact_spans(m: _Model) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Days on which each kind of contact can happen, per customer (inclusive)."""
    # Sales keep visiting and calling for a while after the last order (retention).
    sales = (np.maximum(m.start - 30, m.first_day), np.minimum(m.end + 120, m.today))
    after_sales = (m.start, np.minimum(m.end + 30, m.today))
    return {"visit": sales, "call": sales, "complaint": after_sales, "service": after_sales}


def _interactions(
    m: _Model, ident: _Identity, rng: np.random.Generator
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    rates, spans = _contact_rates(m), _contact_spans(m)
    custs, days, kinds = [], [], []
    for k, kind in enumerate(INTERACTION_KINDS):
        lo, hi = spans[kind]
        span = np.maximum(hi - lo + 1, 1)
        counts = rng.poisson(rates[kind] * span / 365.25)
        cust = np.repeat(np.arange(m.n), counts)
        custs.append(cust)
        days.append(_to_weekday(lo[cust] + (rng.random(cust.size) * span[cust]).astype(np.int64)))
        kinds.append(np.full(cust.size, k, dtype=np.int64))
    cust, day, kind = np.concatenate(custs), np.concatenate(days), np.concatenate(kinds)
    order = np.lexsort((kind, cust, day))
    cust, day, kind = cust[order], day[order], kind[order]

    size = cust.size
    topic = rng.integers(0, 1 << 30, size)
    complaint, service = kind == 2, kind == 3
    # Resolution takes longer where the service experience is poor.
    days_needed = np.where(
        complaint,
        np.rint(np.exp(np.log(5) - 0.3 * m.z_service[cust] + 0.8 * rng.standard_normal(size))),
        np.rint(np.exp(np.log(2) + 0.7 * rng.standard_normal(size))),
    )
    resolved = day + np.maximum(days_needed, 1).astype(np.int64)
    still_open = (resolved > m.today) | (
        complaint & (day >= m.today - 60) & (rng.random(size) < 0.5)
    )
    still_open &= complaint | service
    resolved = np.where((complaint | service) & ~still_open, resolved, -1)

    outcome = np.empty(size, dtype=object)
    visit_text = np.array(
        [f"Visit by {am}: {t}" for am in ident.managers for t in _VISIT_TOPICS], dtype=object
    )
    sel = kind == 0
    outcome[sel] = visit_text[
        ident.manager[cust[sel]] * len(_VISIT_TOPICS) + topic[sel] % len(_VISIT_TOPICS)
    ]
    sel = kind == 1
    call_text = np.array([f"Call: {t}" for t in _CALL_TOPICS], dtype=object)
    outcome[sel] = call_text[topic[sel] % len(_CALL_TOPICS)]
    fixes = len(_COMPLAINT_FIXES)
    complaint_text = np.array(
        [
            f"Complaint: {issue}; " + (f"resolved: {fix}" if f < fixes else "open, under review")
            for issue in _COMPLAINT_ISSUES
            for f, fix in enumerate((*_COMPLAINT_FIXES, ""))
        ],
        dtype=object,
    )
    issue = topic[complaint] % len(_COMPLAINT_ISSUES)
    fix = np.where(still_open[complaint], fixes, (topic[complaint] >> 8) % fixes)
    outcome[complaint] = complaint_text[issue * (fixes + 1) + fix]
    service_text = np.array(
        [f"Service: {job}; {state}" for job in _SERVICE_JOBS for state in ("done", "in progress")],
        dtype=object,
    )
    job = topic[service] % len(_SERVICE_JOBS)
    outcome[service] = service_text[job * 2 + still_open[service]]

    complaints12 = np.bincount(cust[complaint & (day > m.y1)], minlength=m.n)
    table = {"cust": cust, "day": day, "kind": kind, "outcome": outcome, "resolved": resolved}
    return table, complaints12


PLANNED_INTERVALS = ((0.45, 14), (0.60, 21), (0.80, 30), (0.90, 45), (1.0, 90))
"""(share of customers by size, largest first, contact interval in days) the account
managers work to: about the visit intervals of the default strategies, whose best types
(Star: 14 days) are mostly the largest customers."""
PLANNED_SLIP = 0.05
"""Share of served customers whose manager has let the rhythm slip (overdue by design)."""


def _planned_contacts(m: _Model, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The account managers' recent check-in calls: (customer, day) of each.

    A customer still served (ordering, or silent for less than 120 days) is called at its
    size tier's interval (:data:`PLANNED_INTERVALS`), a little early rather than late, the
    last three times; a few (:data:`PLANNED_SLIP`) were last called 1.2 to 3 intervals ago.
    So "overdue" on the demo's Activity sheet is the exception it is in a working sales
    team: lapsed customers nobody calls any more, slipped rhythms, and customers whose type
    asks for more than their tier gets.
    """
    rank = np.argsort(np.argsort(-m.z_size, kind="stable"), kind="stable") / max(m.n, 1)
    interval = np.select([rank < q for q, _ in PLANNED_INTERVALS],
                         [d for _, d in PLANNED_INTERVALS]).astype(float)
    served = np.flatnonzero(_served(m))
    # A thinner history (fewer orders per customer, see fit_history) has fewer planned
    # calls too: a share of the customers in proportion to the order rate.
    served = served[rng.random(served.size) < min(1.0, m.activity)]
    gap = interval[served]
    slipped = rng.random(served.size) < PLANNED_SLIP
    # Days since the last call: within 80 % of the interval, or 1.2-3 intervals when slipped.
    since = np.where(slipped, gap * rng.uniform(1.2, 3.0, served.size),
                     gap * rng.uniform(0.0, 0.8, served.size))
    steps = gap[:, None] * rng.uniform(0.8, 1.0, (served.size, PLANNED_CALLS))
    offsets = since[:, None] + np.concatenate([np.zeros((served.size, 1)),
                                               np.cumsum(steps[:, 1:], axis=1)], axis=1)
    days = m.today - np.floor(offsets).astype(np.int64)
    cust = np.repeat(served, PLANNED_CALLS)
    days = days.ravel()
    keep = days >= np.maximum(m.first_day, m.start[cust] - 30)
    return cust[keep], _to_weekday(days[keep])


PLANNED_CALLS = 3
"""Planned calls per served customer: the last three of its rhythm."""


def _served(m: _Model) -> np.ndarray:
    """Customers the account managers still call: ordering, or silent under 120 days (as
    the sales contacts of :func:`_contact_spans`)."""
    return m.end + 120 >= m.today


def _with_planned_contacts(
    inter: dict[str, np.ndarray], m: _Model, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """``inter`` with :func:`_planned_contacts` added as calls, in the table's order."""
    cust, day = _planned_contacts(m, rng)
    call = INTERACTION_KINDS.index("call")
    out = {
        "cust": np.concatenate([inter["cust"], cust]),
        "day": np.concatenate([inter["day"], day]),
        "kind": np.concatenate([inter["kind"], np.full(cust.size, call, dtype=np.int64)]),
        "outcome": np.concatenate([inter["outcome"],
                                   np.full(cust.size, "Call: planned check-in", dtype=object)]),
        "resolved": np.concatenate([inter["resolved"], np.full(cust.size, -1, dtype=np.int64)]),
    }
    order = np.lexsort((out["kind"], out["cust"], out["day"]))
    return {k: v[order] for k, v in out.items()}


def _survey_draws(
    m: _Model, rng: np.random.Generator, complaints12: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Who answered, when, and the answers (n x 6, also drawn for those who did not)."""
    n, q = m.n, len(SURVEY_QUESTIONS)
    # Customers still buying answer far more often than those long gone.
    responded = rng.random(n) < np.where(m.end >= m.today - 548, 0.45, 0.15)
    day = m.today - 20 - (rng.random(n) * 130).astype(np.int64)
    day = _to_weekday(np.maximum(day, m.start + 7))
    person = 0.5 * rng.standard_normal(n)
    noise = 0.85 * rng.standard_normal((n, q), dtype=np.float32)  # float32: half the time
    mean = 3.65 + 0.45 * m.z_service + 0.15 * m.z_health - 0.3 * np.minimum(complaints12, 4)
    # Price is rated lowest, quality and the account manager highest.
    item_bias = np.array([0.15, -0.1, -0.4, 0.0, 0.15, 0.05])
    answers = np.clip(np.rint(mean[:, None] + person[:, None] + item_bias + noise), 1, 5)
    return responded, day, answers.astype(np.int64)


def _satisfaction(responded: np.ndarray, answers: np.ndarray) -> np.ndarray:
    return np.where(responded, np.round(answers.mean(axis=1), 2), np.nan)


def _summary(
    m: _Model, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The history's per-customer totals, drawn without generating the history.

    Returns revenue of the last 12 months and of the 12 before, gross profit of the last 12
    (all in cents), orders and complaints of the last 12 months.
    """
    n = m.n
    span = m.end - m.start + 1
    # The order grid of _history without its jitter: order j of N sits at
    # start + (j + phase) * span / N; count the grid points inside each window.
    count = 1 + rng.poisson(m.extra_orders)
    phase = np.where(m.anchored, 0.0, rng.random(n))
    interval = span / count

    def orders_in(lo: int, hi: int) -> np.ndarray:
        def before(day: np.ndarray) -> np.ndarray:
            return np.clip(np.ceil((day - m.start) / interval - phase), 0, count)

        inside = before(np.minimum(hi, m.end) + 1) - before(np.maximum(lo, m.start))
        return np.where(_overlap(m.start, m.end, lo, hi) > 0, inside, 0).astype(np.int64)

    k_last = orders_in(m.y1 + 1, m.today)
    k_prev = orders_in(m.y2 + 1, m.y1)

    def value(k: np.ndarray, lo: int, hi: int) -> np.ndarray:
        mid = (np.maximum(m.start, lo) + np.minimum(m.end, hi)) / 2
        mean = m.order_value * (1 - m.discount) * np.exp(m.trend * (mid - m.today) / 365.25)
        # Sum of k lognormal orders ~ gamma with the same mean and variance.
        return rng.gamma(k / _CV2_ORDER, mean * _CV2_ORDER)

    rev = np.rint(value(k_last, m.y1 + 1, m.today) * 100)
    prev = np.rint(value(k_prev, m.y2 + 1, m.y1) * 100)
    margin = 0.27 - 0.025 * m.z_size - 0.8 * m.discount + 0.02 * rng.standard_normal(n)
    gp = np.rint(rev * np.clip(margin, 0.03, 0.5))
    lo, hi = _contact_spans(m)["complaint"]
    exposure = _overlap(lo, hi, m.y1 + 1, m.today) / 365.25
    complaints12 = rng.poisson(_contact_rates(m)["complaint"] * exposure)
    return rev, prev, gp, k_last, complaints12


# --------------------------------------------------------------------------------------
# Tables


def _customers_frame(
    ident: _Identity,
    m: _Model,
    rev_cents: np.ndarray,
    prev_cents: np.ndarray,
    gp_cents: np.ndarray,
    orders12: np.ndarray,
    satisfaction: np.ndarray,
) -> pd.DataFrame:
    revenue = rev_cents / 100
    unit = np.divide(gp_cents, orders12, out=np.zeros(m.n), where=orders12 > 0)
    derived = {
        "PurchaseGrowth": np.round(growth_rate(rev_cents, prev_cents), 4),
        "WalletHeadroom": np.round(np.maximum(m.wallet - revenue, 0), -3),
        "Satisfaction": satisfaction,
        "Revenue12m": revenue,
        "GrossProfit12m": gp_cents / 100,
        "UnitProfit": np.round(unit / 100, 2),
    }
    data = ident.columns | m.columns | derived
    frame = {}
    for column in CUSTOMER_COLUMNS:
        values = data[column]
        frame[column] = _text(values) if values.dtype == object else values
    return pd.DataFrame(frame, copy=False)


def _transactions_frame(ident: _Identity, tx: dict[str, np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "CustomerID": _text(ident.ids[tx["cust"]]),
            "Date": _to_datetime(tx["day"]),
            "Amount": tx["amount"] / 100,
            "GrossProfit": tx["gp"] / 100,
            "Quantity": tx["quantity"],
            "Product": _text(_PRODUCT_NAMES[tx["product"]]),
            # One invoice per order line, numbered in date order as an ERP numbers them.
            schema.DOCUMENT_NO: _text(np.array(
                [f"INV-{n:07d}" for n in range(1, tx["cust"].size + 1)], dtype=object)),
        },
        copy=False,
    )


def _interactions_frame(ident: _Identity, it: dict[str, np.ndarray]) -> pd.DataFrame:
    resolved = _to_datetime(it["resolved"])
    resolved[it["resolved"] < 0] = np.datetime64("NaT")
    return pd.DataFrame(
        {
            "CustomerID": _text(ident.ids[it["cust"]]),
            "Date": _to_datetime(it["day"]),
            "Kind": _text(np.array(INTERACTION_KINDS, dtype=object)[it["kind"]]),
            "Outcome": _text(it["outcome"]),
            "ResolvedDate": resolved,
        },
        copy=False,
    )


def _survey_frame(
    ident: _Identity, responded: np.ndarray, day: np.ndarray, answers: np.ndarray
) -> pd.DataFrame:
    who = np.flatnonzero(responded)
    who = who[np.lexsort((who, day[who]))]
    frame = {"CustomerID": _text(ident.ids[who]), "Date": _to_datetime(day[who])}
    frame |= {q: answers[who, j] for j, q in enumerate(SURVEY_QUESTIONS)}
    return pd.DataFrame(frame, copy=False)


# --------------------------------------------------------------------------------------
# Columns of the other models (xlcrm.value.presets), drawn after the ledger from their own
# random stream, so that the default ledger is the same with or without them.

SERVICE_COST_PER_CONTACT: Final = {"visit": 400.0, "call": 30.0, "complaint": 800.0,
                                   "service": 1200.0}
"""What one contact of each kind costs the seller (``ServiceCost12m``), in currency."""
PRESET_COLUMNS: Final = ("ServiceCost12m", "IndustryStatus", "CooperationYears", "FleetSize",
                         "Satisfaction")
"""The ``Customers`` columns :func:`preset_columns` draws."""


def preset_columns(ledger: Ledger, columns: tuple[str, ...], *, seed: int = 7,
                   today: dt.date | None = None) -> pd.DataFrame:
    """The ``Customers`` columns a non-default model reads, drawn to fit ``ledger``.

    Parameters
    ----------
    ledger : Ledger
        A clean ledger from :func:`make_ledger` (with history).
    columns : tuple of str
        Any of :data:`PRESET_COLUMNS`:

        ``ServiceCost12m``
            Marketing and service cost of the last 12 months: each contact at
            :data:`SERVICE_COST_PER_CONTACT`, plus marketing of about 0.5 % of the
            12-month revenue with a wide lognormal spread (campaigns, trade fairs and samples
            follow the account's needs, not its revenue alone), rounded to 10. Large
            accounts cost more, but the cost does not simply mirror gross profit.
        ``IndustryStatus``
            The customer's standing in its industry, ``Leader`` 10 %, ``Major`` 25 %,
            ``Average`` 40 %, ``Minor`` 25 %, by company size and operating status plus noise.
        ``CooperationYears``
            Years since the first order; a customer already ordering when the history
            starts has bought for a further 0.5 to ~15 years (gamma), rounded to 0.1.
        ``FleetSize``
            Trucks in the fleet: equipment value / 120 000 with a 25 % lognormal spread,
            at least 1.
        ``Satisfaction``
            The account manager's estimate (1 to 5 in steps of 0.5) for a customer who
            returned no questionnaire: 4 less 0.4 per complaint in the last 12 months, with
            noise; blank for a customer with survey answers (xlcrm computes theirs from
            Survey). Without it a model that weighs satisfaction would guess more than half
            of its customers' figures.
    seed : int
        The ledger's seed (the stream is its own: the ledger does not change).
    today : datetime.date, optional
        The history's last day (default :data:`DEFAULT_TODAY`).

    Returns
    -------
    pandas.DataFrame
        One column per name, rows as ``ledger.customers``.
    """
    unknown = [c for c in columns if c not in PRESET_COLUMNS]
    if unknown:
        raise ValueError(f"no demo generator for columns {unknown}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, 14, 5]))
    customers = ledger.customers
    n = len(customers)
    as_of = pd.Timestamp(_as_date(today))
    ids = customers[schema.CUSTOMER_ID].astype(str).to_numpy()
    index = pd.Index(ids)
    tx = ledger.transactions
    at = index.get_indexer(tx["CustomerID"].astype(str))
    recent = (tx["Date"] > as_of - pd.DateOffset(years=1)).to_numpy() & (at >= 0)
    revenue = np.bincount(at[recent], tx["Amount"].to_numpy(float)[recent], n)
    draws = {"noise": rng.standard_normal((4, n)), "gamma": rng.gamma(2.0, 2.5, n)}
    out: dict[str, Any] = {}
    if "ServiceCost12m" in columns:
        it = ledger.interactions
        where = index.get_indexer(it["CustomerID"].astype(str))
        cost = it["Kind"].map(SERVICE_COST_PER_CONTACT).fillna(0).to_numpy(float)
        mask = (it["Date"] > as_of - pd.DateOffset(years=1)).to_numpy() & (where >= 0)
        contacts = np.bincount(where[mask], cost[mask], n)
        marketing = 0.005 * revenue * np.exp(draws["noise"][0])
        out["ServiceCost12m"] = np.round(contacts + marketing, -1)
    if "IndustryStatus" in columns:
        employees = pd.to_numeric(customers["Employees"], errors="coerce").to_numpy(float)
        size = np.log(np.where(employees > 0, employees, np.nanmedian(employees)))
        status = customers["OperatingStatus"].map(
            {label: -i for i, label in enumerate(OPERATING_STATUS_LABELS)}).to_numpy(float)
        score = (0.8 * (size - size.mean()) / size.std() + 0.3 * status
                 + 0.5 * draws["noise"][1])
        out["IndustryStatus"] = _text(_cut((score - score.mean()) / score.std(),
                                           (0.10, 0.25, 0.40, 0.25), INDUSTRY_STATUS_LABELS))
    if "CooperationYears" in columns:
        first = tx.groupby("CustomerID")["Date"].min().reindex(ids)
        years = ((as_of - first).dt.days / 365.25).fillna(0).to_numpy(float)
        before = (first - tx["Date"].min()).dt.days.fillna(0).to_numpy() < 60
        out["CooperationYears"] = np.round(years + np.where(before, 0.5 + draws["gamma"], 0), 1)
    if "FleetSize" in columns:
        equipment = pd.to_numeric(customers["EquipmentValue"], errors="coerce").to_numpy(float)
        # A blank equipment value (a planted gap) leaves the fleet size blank too.
        out["FleetSize"] = np.maximum(
            np.rint(equipment / 120_000 * np.exp(0.25 * draws["noise"][2])), 1)
    if "Satisfaction" in columns:
        out["Satisfaction"] = _estimated_satisfaction(ledger, index, as_of, draws["noise"][3])
    return pd.DataFrame({c: out[c] for c in columns}, index=customers.index)


def _estimated_satisfaction(ledger: Ledger, index: pd.Index, as_of: pd.Timestamp,
                            noise: np.ndarray) -> np.ndarray:
    """The manager's 1-5 estimate for customers without survey answers (NaN for the rest)."""
    it = ledger.interactions
    where = index.get_indexer(it["CustomerID"].astype(str))
    recent = (it["Date"] > as_of - pd.DateOffset(years=1)).to_numpy() & (where >= 0)
    complaints = np.bincount(where[recent & (it["Kind"] == "complaint").to_numpy()],
                             minlength=len(index))
    estimate = np.clip(np.round(2 * (4.0 - 0.4 * complaints + 0.5 * noise)) / 2, 1, 5)
    answered = index.isin(ledger.survey["CustomerID"].astype(str))
    return np.where(answered, np.nan, estimate)
