"""Query strings of the list endpoints: what a route declares is all it takes.

A filter the route does not know is refused with a 400 naming it, never silently
ignored (a client would otherwise believe its list was filtered). The hosted API's
``namespace``, ``repo`` and ``folder`` filters get a reason of their own.
"""

from __future__ import annotations

from fastapi import Query, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from editserve.core.errors import InvalidParams

# Filters the hosted API documents that a self-hosted server cannot honour.
UNSUPPORTED_FILTERS = {
    "namespace": (
        "generations belong to the API key that made them; there are no namespaces to "
        "filter by (each generation shows the target_namespace it was given)"
    ),
    "repo": "results are not written into repositories here, so none can be filtered by",
    "folder": "results are not written into repository folders here",
}


def declared_query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route (and its dependencies) declares."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= declared_query_names(dependency)
    return names


async def only_declared_query(request: Request) -> None:
    """A dependency: refuse query parameters the route does not declare."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    allowed = declared_query_names(route.dependant)
    for name in request.query_params:
        if name in allowed:
            continue
        if name in UNSUPPORTED_FILTERS:
            raise InvalidParams(f"{name}: filter not supported: {UNSUPPORTED_FILTERS[name]}")
        raise InvalidParams(
            f"{name}: unknown query parameter (this endpoint takes {', '.join(sorted(allowed))})"
        )


# The filters both list endpoints take, documented as the service parses them.
_STATUS = "(queued|processing|succeeded|failed|cancelled)"
STATUS_QUERY = Query(
    default=None,
    description="queued|processing|succeeded|failed|cancelled, or several joined by commas",
    # Documented only: the service's parse_statuses checks it with a clearer message.
    json_schema_extra={"pattern": rf"^ *{_STATUS} *(, *{_STATUS} *)*$"},
)
MODEL_QUERY = Query(default=None, description="A model id or alias (404 if not served).")
MEDIA_TYPE_QUERY = Query(
    default=None, description="Only image is served here.", json_schema_extra={"enum": ["image"]}
)
