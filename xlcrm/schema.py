"""The workbook contract: sheet names and column headers.

Staff formulas and the template refer to these names, so they change only with a
migration. Everything that reads or writes sheets takes its names from here.
"""

from __future__ import annotations

from collections.abc import Sequence

# Ledger sheets: owned by the user, read (never rewritten) by an analysis run.
CUSTOMERS = "Customers"
TRANSACTIONS = "Transactions"
INTERACTIONS = "Interactions"
SURVEY = "Survey"
CONTACTS = "Contacts"
LEDGER_SHEETS = (CUSTOMERS, TRANSACTIONS, INTERACTIONS, SURVEY, CONTACTS)
# History: a ledger-like sheet of past outcomes, one row per customer and run. Its one writer
# is the History append of a resegment (rows added at the end, oldest runs dropped by the
# retention option); never read as customers. Added by the first run when missing. Not
# "History": Excel reserves that name (its shared-workbook change log) and refuses a sheet
# so named.
HISTORY = "SegmentHistory"
HISTORY_COLUMNS = ("RunStamp", "AsOf", "CustomerID", "Type", "ABC", "Value", "CLV", "PAlive")

# Settings sheets: edited by the analyst.
INDICATORS = "Indicators"
JUDGMENTS = "Judgments"
STRATEGIES = "Strategies"
SETTINGS_SHEETS = (INDICATORS, JUDGMENTS, STRATEGIES)
#: A further rater's judgments: a copy of the Judgments sheet named "Judgments Anna".
RATER_SHEET_PREFIX = JUDGMENTS + " "


def rater_sheets(names: Sequence[str]) -> list[str]:
    """The Judgments sheet and every "Judgments <rater>" sheet, in workbook order.

    Only the Judgments sheet (or none) means one rater: the workbook as it always was.
    """
    prefix = RATER_SHEET_PREFIX.casefold()
    return [n for n in names if n == JUDGMENTS
            or (n.casefold().startswith(prefix) and n[len(prefix):].strip())]

# Result sheets: owned by xlcrm, regenerated on every run.
SCORES = "Scores"
SEGMENTS = "Segments"
DASHBOARD = "Dashboard"
PROBLEMS = "Problems"
ACTIVITY = "Activity"
SENSITIVITY = "Sensitivity"
RESULT_SHEETS = (SCORES, SEGMENTS, DASHBOARD, PROBLEMS, ACTIVITY, SENSITIVITY)

HELP = "Help"
# xlwings' configuration sheet (UDF Modules); Python-only, dropped from a shareable copy.
XLWINGS_CONF = "xlwings.conf"

# Customers: identity and contact columns, then the default indicator columns.
CUSTOMER_ID = "CustomerID"
CUSTOMER_NAME = "Name"
CUSTOMER_IDENTITY_COLUMNS = (
    CUSTOMER_ID,
    CUSTOMER_NAME,
    "Industry",
    "Region",
    "AccountManager",
    "Contact",
    "Phone",
    "Email",
)
# Customers columns carried into Segments and Activity (blank where the ledger has none), so
# that an account manager can filter to their accounts and the Dashboard can break the
# figures down per manager, industry and region.
ACCOUNT_MANAGER = "AccountManager"
BREAKDOWN_COLUMNS = (ACCOUNT_MANAGER, "Industry", "Region")
# Contact details masked in a shareable copy.
CONTACT_COLUMNS = ("Contact", "Phone", "Email")

# The ledger columns behind the 12 default indicators (see xlcrm.value.hierarchy).
DEFAULT_INDICATOR_COLUMNS = (
    "OperatingStatus",  # qualitative: Excellent / Good / Fair / Poor
    "Employees",  # company scale
    "EquipmentValue",  # fleet or equipment value, currency
    "CreditRating",  # qualitative: AAA ... C
    "PurchaseGrowth",  # purchase growth rate, fraction (0.12 = +12 %)
    "IndustryOutlook",  # qualitative: Growing / Stable / Shrinking
    "WalletHeadroom",  # estimated purchases not yet with us, currency per year
    "Satisfaction",  # survey score, 1..5
    "Revenue12m",  # sales revenue, last 12 months
    "GrossProfit12m",  # gross profit, last 12 months
    "UnitProfit",  # gross profit per order
    "DaysToPay",  # average days to pay; lower is better
)

# DocumentNo: the invoice, order or delivery-note number of the line (several lines may share
# one); an import uses it to tell a line already in the sheet from a new one.
DOCUMENT_NO = "DocumentNo"
TRANSACTION_COLUMNS = (
    "CustomerID", "Date", "Amount", "GrossProfit", "Quantity", "Product", DOCUMENT_NO,
)
INTERACTION_COLUMNS = ("CustomerID", "Date", "Kind", "Outcome", "ResolvedDate")
# The buying center: the people at each customer, their role in a purchase and their stance
# towards us (see xlcrm.operations.contacts).
CONTACT_SHEET_COLUMNS = ("CustomerID", "Name", "Role", "Stance", "Phone", "Email", "LastContact")
CONTACT_ROLES = ("decision maker", "influencer", "user", "buyer", "gatekeeper")
CONTACT_STANCES = ("supporter", "neutral", "opponent")
SURVEY_ID_COLUMNS = ("CustomerID", "Date")  # then one column per question (Q1, Q2, ...)
# The template's questionnaire (Likert 1..5); an analyst may ask other questions.
SURVEY_QUESTIONS = {
    "Q1": "Product quality meets our needs",
    "Q2": "Deliveries arrive on time and complete",
    "Q3": "Prices are fair for what we get",
    "Q4": "After-sales service solves our problems quickly",
    "Q5": "Our account manager understands our business",
    "Q6": "Overall we are satisfied with this supplier",
}

# Result sheet headers (a contract: staff formulas refer to them). The per-indicator and
# per-group score columns of Scores sit between Name and Value and are named after the
# indicators and groups of the hierarchy.
SCORES_LEAD = (CUSTOMER_ID, CUSTOMER_NAME)
SCORES_TAIL = ("Value", "Rank", "Percentile", "Imputed", "ImputedWeight", "Computed")
SEGMENTS_COLUMNS = (
    CUSTOMER_ID,
    CUSTOMER_NAME,
    "Qualification",
    "Potential",
    "Contribution",
    "Type",
    "TypeName",
    "Strategy",
    "ABC",
    "ABCName",
    "Cluster",
    *BREAKDOWN_COLUMNS,
    "Owner",  # who owns the type's strategy (Strategies sheet)
    "Stable",
    # Since the previous run (xlcrm.operations.history): its type and class, and the move.
    "PreviousType",
    "PreviousABC",
    "Move",
)
PROBLEMS_COLUMNS = ("Severity", "Sheet", "Cell", "Problem", "WhatToDo")
