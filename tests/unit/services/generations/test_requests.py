"""Property: any JSON body given to request validation (generations/requests.py) ends as a
ValidatedRequest, an InvalidParams whose detail names a field, or — for a model that is
not served — a NotFound "Model not found: <id>". Never another exception."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import example, given, settings
from hypothesis import strategies as st

from editserve.core.errors import InvalidParams, NotFound
from editserve.core.settings import Settings
from editserve.models.registry import default_registry
from editserve.services.generations.requests import (
    EditEnvelope,
    Envelope,
    QueueEnvelope,
    ValidatedRequest,
    validate_request,
)

REGISTRY = default_registry()
SERVER = Settings()
PARAMS = REGISTRY.default.params_model
KNOWN = sorted({*QueueEnvelope.model_fields, *EditEnvelope.model_fields, *PARAMS.model_fields})
VALID: dict[str, Any] = {
    "model": REGISTRY.default.id,
    "prompt": "Add a hat",
    "input_image": ["https://example.com/a.png"],
}

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()  # json.loads takes NaN and Infinity too
    | st.text(max_size=20)
    | st.sampled_from(["1:1", "auto", "png", "url", "b64_json", "data:image/png;base64,AA"])
)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=12,
)
field_names = st.sampled_from(KNOWN) | st.text(max_size=12)
# A model named by id, alias (any case), or a name that is not served.
spec = REGISTRY.default
models = st.sampled_from([spec.id, spec.id.upper(), *spec.aliases]) | st.text(max_size=12)
# Bodies near the valid one: another model, some fields replaced, added or dropped.
near_valid = st.builds(
    lambda model, changes, dropped: {
        **{k: v for k, v in {**VALID, "model": model}.items() if k not in dropped},
        **changes,
    },
    models,
    st.dictionaries(field_names, json_values, max_size=3),
    st.sets(st.sampled_from(sorted(VALID)), max_size=1),
)
bodies = json_values | st.dictionaries(field_names, json_values, max_size=8) | near_valid


def names_a_field(detail: str, body: dict[str, Any]) -> bool:
    roots = {"body", *KNOWN, *body}
    return any(detail.startswith(f"{root}{sep}") for root in roots for sep in (":", ".", "["))


def check(body: Any, envelope: type[Envelope]) -> None:
    # What the API hands over is what json.loads makes of the wire bytes.
    wire = json.loads(json.dumps(body))
    try:
        request = validate_request(wire, envelope, REGISTRY, SERVER)
    except InvalidParams as exc:
        assert exc.detail, "an empty detail"
        if not isinstance(wire, dict):
            assert exc.detail == "body: must be a JSON object"
        else:
            assert names_a_field(exc.detail, wire), exc.detail
        assert "errors.pydantic.dev" not in exc.detail and "Traceback" not in exc.detail
        return
    except NotFound as exc:
        model = wire["model"]
        assert isinstance(model, str) and model and REGISTRY.find(model) is None
        assert exc.detail == f"Model not found: {model}" and exc.status_code == 404
        return
    assert isinstance(request, ValidatedRequest)
    assert REGISTRY.find(wire["model"]) is request.spec
    assert 1 <= request.num_generations <= 4
    assert request.input_refs and all(isinstance(ref, str) for ref in request.input_refs)
    assert not set(wire) - set(KNOWN), "an unknown field was accepted"


@settings(max_examples=600, deadline=None, database=None)
@given(body=bodies, envelope=st.sampled_from([QueueEnvelope, EditEnvelope]))
@example(body=VALID, envelope=QueueEnvelope)
@example(body={**VALID, "model": "no-such-model"}, envelope=EditEnvelope)
@example(body={**VALID, "model": ""}, envelope=QueueEnvelope)
@example(body={**VALID, "": 1}, envelope=QueueEnvelope)
@example(body={**VALID, "num_generations": 4.0}, envelope=QueueEnvelope)
@example(body={**VALID, "seed": float("nan")}, envelope=QueueEnvelope)
@example(body=[VALID], envelope=QueueEnvelope)
def test_any_json_body_is_validated_or_refused_by_field(
    body: Any, envelope: type[Envelope]
) -> None:
    check(body, envelope)


def test_the_strategy_reaches_every_outcome() -> None:
    """The property above is only as good as the bodies it sees: all three outcomes occur."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(body=near_valid)
    def collect(body: dict[str, Any]) -> None:
        try:
            validate_request(body, QueueEnvelope, REGISTRY, SERVER)
            seen.add("valid")
        except InvalidParams:
            seen.add("invalid")
        except NotFound:
            seen.add("not found")

    collect()
    assert seen == {"valid", "invalid", "not found"}
