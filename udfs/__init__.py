"""xlcrm's Excel adapters: worksheet functions (and, in :mod:`udfs.ribbon`, ribbon actions).

``import udfs`` exposes every worksheet function under its Excel name; xlwings' Import
Functions (the template's ``xlwings.conf`` names this module) registers them.
:mod:`udfs.lite` offers both to xlwings Lite (see docs/lite.md).
"""

from udfs.functions import (
    AHP_CONSISTENCY,
    AHP_CR,
    AHP_GROUP,
    AHP_REPAIR,
    AHP_SENSITIVITY,
    AHP_WEIGHTS,
    CRM_ABC,
    CRM_ALPHA,
    CRM_CHURN_RISK,
    CRM_CLV,
    CRM_HIGHLOW,
    CRM_KMEANS,
    CRM_NEXT_CONTACT,
    CRM_RFM,
    CRM_SCORE,
    CRM_STRATEGY,
    CRM_TYPE,
    CRM_TYPENAME,
    CRM_VALUE,
)

__all__ = [
    "AHP_CONSISTENCY",
    "AHP_CR",
    "AHP_GROUP",
    "AHP_REPAIR",
    "AHP_SENSITIVITY",
    "AHP_WEIGHTS",
    "CRM_ABC",
    "CRM_ALPHA",
    "CRM_HIGHLOW",
    "CRM_KMEANS",
    "CRM_NEXT_CONTACT",
    "CRM_CHURN_RISK",
    "CRM_CLV",
    "CRM_RFM",
    "CRM_SCORE",
    "CRM_STRATEGY",
    "CRM_TYPE",
    "CRM_TYPENAME",
    "CRM_VALUE",
]
