"""Model catalog: bundled prices/context/capabilities, OpenRouter refresh, published latency.

The catalog is re-exported here; ``core.models.refresh`` is imported on demand because it
pulls in httpx, which commands that only read the catalog do not need.
"""

from agentic_flow.core.models.catalog import (
    ModelCatalog,
    ModelInfo,
    catalog_columns,
    catalog_rows,
    cost,
    format_cost,
    format_price,
    sort_models,
)

__all__ = [
    "ModelCatalog",
    "ModelInfo",
    "catalog_columns",
    "catalog_rows",
    "cost",
    "format_cost",
    "format_price",
    "sort_models",
]
