"""Validation and serialization of the orchestrator models (no database needed)."""

from __future__ import annotations

import json
import typing
import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, TypeVar

import pytest
from pydantic import ValidationError

from tac_bootstrap.orchestrator.orch_database_models import (
    MODELS,
    Agent,
    AgentLog,
    AiDeveloperWorkflow,
    OrchestratorAgent,
    OrchestratorChat,
    Prompt,
    SystemLog,
    TableModel,
)

ORCH_ID = "6f1c2b3a-1d2e-4f5a-8b9c-0d1e2f3a4b5c"
AGENT_ID = "0b8f6a52-7c1d-4e3f-9a2b-5c6d7e8f9a0b"
NAIVE = datetime(2026, 2, 4, 10, 30)

# The smallest valid keyword arguments of each model (required fields only).
MINIMAL: dict[type[TableModel], dict[str, Any]] = {
    OrchestratorAgent: {"name": "planner"},
    Agent: {"orchestrator_agent_id": ORCH_ID},
    Prompt: {"agent_id": AGENT_ID, "content": "Analyse the code base"},
    AgentLog: {"agent_id": AGENT_ID, "log_type": "step_start", "message": "step 1"},
    SystemLog: {"log_level": "info", "message": "started"},
    OrchestratorChat: {
        "orchestrator_agent_id": ORCH_ID,
        "sender_type": "user",
        "receiver_type": "orchestrator",
        "message": "hello",
    },
    AiDeveloperWorkflow: {"adw_name": "adw_plan_build", "workflow_type": "feature"},
}

TABLES = {
    OrchestratorAgent: "orchestrator_agents",
    Agent: "agents",
    Prompt: "prompts",
    AgentLog: "agent_logs",
    SystemLog: "system_logs",
    OrchestratorChat: "orchestrator_chat",
    AiDeveloperWorkflow: "ai_developer_workflows",
}

UUID_FIELDS = [
    (model, name)
    for model in MODELS
    for name in model.model_fields
    if name == "id" or (name.endswith("_id") and name != "session_id")
]

ALLOWED = {
    (OrchestratorAgent, "status"): ("active", "inactive", "archived"),
    (Agent, "status"): ("pending", "running", "completed", "failed"),
    (Prompt, "status"): ("pending", "running", "completed", "failed"),
    (AgentLog, "log_type"): ("step_start", "step_end", "event", "error"),
    (SystemLog, "log_level"): ("debug", "info", "warning", "error", "critical"),
    (OrchestratorChat, "sender_type"): ("user", "orchestrator", "agent"),
    (OrchestratorChat, "receiver_type"): ("user", "orchestrator", "agent"),
    (AiDeveloperWorkflow, "status"): ("pending", "in_progress", "completed", "failed", "cancelled"),
}

NON_NEGATIVE = [
    (Prompt, "tokens_input"),
    (Prompt, "tokens_output"),
    (Prompt, "cost_usd"),
    (AiDeveloperWorkflow, "total_steps"),
    (AiDeveloperWorkflow, "completed_steps"),
    (AiDeveloperWorkflow, "error_count"),
    (AiDeveloperWorkflow, "duration_seconds"),
]

JSON_FIELDS = [
    (model, name)
    for model in MODELS
    for name in model.model_fields
    if name in ("metadata", "input_data", "output_data")
]


M = TypeVar("M", bound=TableModel)


def build(model: type[M], **changes: Any) -> M:
    return model(**{**MINIMAL[model], **changes})


def test_models_lists_the_seven_tables() -> None:
    assert {model: model.__tablename__ for model in MODELS} == TABLES
    assert len(MODELS) == 7


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_minimal_instance_gets_id_and_utc_timestamps(model: type[TableModel]) -> None:
    row = build(model)
    assert str(uuid.UUID(row.id)) == row.id
    created = getattr(row, "created_at")  # noqa: B009 - every model has it, the base does not
    assert created.tzinfo is not None
    assert created.utcoffset() == timedelta(0)
    assert abs(datetime.now(UTC) - created) < timedelta(minutes=1)
    assert build(model).id != row.id


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("missing", ["first", "all"])
def test_required_fields_are_required(model: type[TableModel], missing: str) -> None:
    required = list(MINIMAL[model])
    kwargs = dict(MINIMAL[model])
    for name in required if missing == "all" else required[:1]:
        del kwargs[name]
    with pytest.raises(ValidationError) as info:
        model(**kwargs)
    assert {e["loc"][0] for e in info.value.errors()} <= set(required)
    assert all(e["type"] == "missing" for e in info.value.errors())


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_unknown_fields_are_refused(model: type[TableModel]) -> None:
    with pytest.raises(ValidationError, match="extra"):
        build(model, no_such_field=1)


def test_defaults_match_the_seed() -> None:
    assert build(OrchestratorAgent).status == "active"
    assert build(Agent).status == "pending"
    prompt = build(Prompt)
    assert (prompt.status, prompt.tokens_input, prompt.tokens_output, prompt.cost_usd) == (
        "pending",
        0,
        0,
        0.0,
    )
    workflow = build(AiDeveloperWorkflow)
    assert workflow.status == "pending"
    assert (workflow.total_steps, workflow.completed_steps, workflow.error_count) == (0, 0, 0)


@pytest.mark.parametrize(("model", "name"), UUID_FIELDS, ids=str)
@pytest.mark.parametrize(
    "given",
    [
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "12345678-1234-5678-1234-567812345678",
        "12345678-1234-5678-1234-567812345678".upper(),
        "{12345678-1234-5678-1234-567812345678}",
        "12345678123456781234567812345678",
        "00000000-0000-0000-0000-000000000000",
    ],
)
def test_uuid_fields_hold_the_canonical_string(
    model: type[TableModel], name: str, given: object
) -> None:
    row = build(model, **{name: given})
    value = getattr(row, name)
    assert isinstance(value, str)
    assert value == str(uuid.UUID(str(given)))


@pytest.mark.parametrize(("model", "name"), UUID_FIELDS, ids=str)
@pytest.mark.parametrize(
    "given",
    [
        "not-a-uuid",
        "",
        "12345678-1234-5678-1234-56781234567",
        "g2345678-1234-5678-1234-567812345678",
        42,
        1.5,
        b"x",
    ],
)
def test_invalid_uuid_is_refused(model: type[TableModel], name: str, given: object) -> None:
    with pytest.raises(ValidationError, match="Invalid UUID format"):
        build(model, **{name: given})


@pytest.mark.parametrize(("model", "name"), list(ALLOWED), ids=str)
def test_allowed_values(model: type[TableModel], name: str) -> None:
    annotation = model.model_fields[name].annotation
    assert set(typing.get_args(annotation)) == set(ALLOWED[model, name])
    for value in ALLOWED[model, name]:
        assert getattr(build(model, **{name: value}), name) == value
    with pytest.raises(ValidationError) as info:
        build(model, **{name: "bogus"})
    message = str(info.value)
    assert all(repr(value) in message for value in ALLOWED[model, name])


LABELS = {
    "status": "Status",
    "log_type": "Log type",
    "log_level": "Log level",
    "sender_type": "Sender type",
    "receiver_type": "Receiver type",
}


@pytest.mark.parametrize(("model", "name"), list(ALLOWED), ids=str)
def test_a_refused_value_reads_as_the_seed_documents(model: type[TableModel], name: str) -> None:
    with pytest.raises(ValidationError) as info:
        build(model, **{name: "invalid_status"})
    allowed = ", ".join(repr(value) for value in ALLOWED[model, name])
    assert f"{LABELS[name]} must be one of " + "{" + allowed + "}" in str(info.value)


def test_the_seed_examples_read_as_documented() -> None:
    with pytest.raises(ValidationError) as info:
        OrchestratorAgent(id="not-a-uuid", name="test")
    assert "Invalid UUID format: not-a-uuid" in str(info.value)
    with pytest.raises(ValidationError) as info:
        Agent.model_validate({"orchestrator_agent_id": ORCH_ID, "status": "invalid_status"})
    assert "Status must be one of {'pending', 'running', 'completed', 'failed'}" in str(info.value)
    log = AgentLog(agent_id=AGENT_ID, log_type="event", message="m", metadata={"key": "value"})
    assert log.to_row()[AgentLog.columns.index("metadata")] == '{"key": "value"}'
    assert json.loads(log.model_dump_json())["metadata"] == '{"key": "value"}'


def test_upper_case_ids_are_stored_in_lower_case() -> None:
    upper = AGENT_ID.upper()
    assert build(AgentLog, agent_id=upper).agent_id == AGENT_ID
    assert build(AgentLog, id=uuid.UUID(upper)).id == AGENT_ID


@pytest.mark.parametrize("model", [m for m in MODELS if m.__transitions__], ids=str)
def test_transitions_name_allowed_statuses(model: type[TableModel]) -> None:
    allowed = set(typing.get_args(model.model_fields["status"].annotation))
    for sources, target in model.__transitions__.values():
        assert {*sources, target} <= allowed
        assert target not in sources


@pytest.mark.parametrize(("model", "name"), NON_NEGATIVE, ids=str)
def test_counts_and_costs_are_not_negative(model: type[TableModel], name: str) -> None:
    assert getattr(build(model, **{name: 0}), name) == 0
    assert getattr(build(model, **{name: 12}), name) == 12
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        build(model, **{name: -1})


@pytest.mark.parametrize(
    ("model", "name"), [(Prompt, "cost_usd"), (AiDeveloperWorkflow, "duration_seconds")]
)
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_floats_are_finite(model: type[TableModel], name: str, bad: float) -> None:
    with pytest.raises(ValidationError):
        build(model, **{name: bad})


def test_naive_datetime_serializes_as_iso_8601() -> None:
    log = build(AgentLog, created_at=NAIVE)
    assert json.loads(log.model_dump_json())["created_at"] == "2026-02-04T10:30:00"
    assert log.model_dump(mode="json")["created_at"] == "2026-02-04T10:30:00"
    assert log.model_dump()["created_at"] == NAIVE


def test_aware_datetime_keeps_its_offset() -> None:
    moment = datetime(2026, 2, 4, 10, 30, 1, 250, tzinfo=timezone(timedelta(hours=2)))
    log = build(AgentLog, created_at=moment)
    assert log.model_dump(mode="json")["created_at"] == "2026-02-04T10:30:01.000250+02:00"
    assert AgentLog.model_validate_json(log.model_dump_json()) == log


def test_offset_in_seconds_moves_to_utc() -> None:
    odd = datetime(2026, 2, 4, 10, 30, tzinfo=timezone(timedelta(hours=1, seconds=30)))
    log = build(AgentLog, created_at=odd)
    assert log.created_at == odd
    assert log.created_at.utcoffset() == timedelta(0)
    assert AgentLog.model_validate_json(log.model_dump_json()) == log


def test_offset_sqlite_cannot_read_moves_to_utc() -> None:
    far = datetime(2026, 2, 4, 10, 30, tzinfo=timezone(timedelta(hours=-23, minutes=-59)))
    log = build(AgentLog, created_at=far)
    assert log.created_at == far
    assert log.created_at.utcoffset() == timedelta(0)
    edge = timezone(timedelta(hours=14, minutes=59))
    kept = build(AgentLog, created_at=datetime(2026, 2, 4, 10, 30, tzinfo=edge))
    assert kept.created_at.tzinfo == edge


def test_datetime_accepts_iso_text() -> None:
    log = build(AgentLog, created_at="2026-02-04T10:30:00")
    assert log.created_at == NAIVE


NESTED = {
    "step": 1,
    "tags": ["a", "b"],
    "inner": {"deep": [1, 2.5, None, True, {"x": "y"}]},
    "text": "quote ' and \" and unicode é",
}


@pytest.mark.parametrize(("model", "name"), JSON_FIELDS, ids=str)
@pytest.mark.parametrize("value", [NESTED, {}, None])
def test_json_fields_serialize_to_json_text_and_back(
    model: type[TableModel], name: str, value: dict[str, Any] | None
) -> None:
    row = build(model, **{name: value})
    assert getattr(row, name) == value
    dumped = row.model_dump(mode="json")[name]
    if value is None:
        assert dumped is None
    else:
        assert isinstance(dumped, str)
        assert json.loads(dumped) == value
    again = model.model_validate_json(row.model_dump_json())
    assert getattr(again, name) == value
    assert again == row


@pytest.mark.parametrize(("model", "name"), JSON_FIELDS, ids=str)
def test_json_fields_parse_json_text(model: type[TableModel], name: str) -> None:
    assert getattr(build(model, **{name: json.dumps(NESTED)}), name) == NESTED
    assert getattr(build(model, **{name: "{}"}), name) == {}


@pytest.mark.parametrize(
    "bad",
    [
        {"when": datetime(2026, 1, 1)},
        {"x": {1, 2}},
        {"x": float("nan")},
        {"x": object()},
        "[1, 2]",
        "not json",
        '{"x": NaN}',
        5,
        ["a"],
    ],
)
def test_json_fields_refuse_what_json_cannot_hold(bad: object) -> None:
    with pytest.raises(ValidationError):
        build(AgentLog, metadata=bad)


def test_json_fields_are_normalised_copies() -> None:
    inner = {"a": 1}
    given: dict[str, Any] = {"pair": (1, 2), "nested": inner}
    log = build(AgentLog, metadata=given)
    assert log.metadata == {"pair": [1, 2], "nested": {"a": 1}}
    inner["a"] = 2
    assert log.metadata["nested"] == {"a": 1}


def test_assignment_is_validated() -> None:
    agent = build(Agent)
    with pytest.raises(ValidationError):
        agent.status = "bogus"  # type: ignore[assignment]


def test_session_id_accepts_any_text_or_a_uuid() -> None:
    assert build(Agent, session_id="sess-1").session_id == "sess-1"
    given = uuid.uuid4()
    assert build(Agent, session_id=given).session_id == str(given)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.__name__)
def test_row_has_one_value_per_column_and_round_trips(model: type[TableModel]) -> None:
    json_values = {name: {"k": [1, "two"]} for m, name in JSON_FIELDS if m is model}
    row = build(model, created_at=NAIVE, **json_values)
    values = row.to_row()
    assert len(values) == len(model.columns) == len(model.model_fields)
    assert tuple(model.model_fields) == model.columns
    assert values == tuple(row.model_dump(mode="json").values())
    assert model.from_row(values) == row
    assert model.validate_row(values) == row


def test_from_rows_builds_each_row_in_order() -> None:
    logs = [build(AgentLog, message=str(i), metadata={"i": i}) for i in range(3)]
    assert AgentLog.from_rows([log.to_row() for log in logs]) == logs
    assert AgentLog.from_rows([]) == []


@pytest.mark.parametrize(
    "metadata",
    [
        {"deep": json.loads("[" * 300 + "]" * 300)},
        {"lone surrogate": "\ud800"},
        {"big": 10**40, "small": 5e-324, "text": "é😀\n"},
    ],
    ids=["nested-300-deep", "lone-surrogate", "numbers-and-text"],
)
def test_stored_json_reads_back_as_written(metadata: dict[str, Any]) -> None:
    log = build(AgentLog, metadata=metadata)
    assert AgentLog.from_row(log.to_row()) == log


def test_validate_row_refuses_a_bad_row() -> None:
    values = list(build(AgentLog).to_row())
    values[AgentLog.columns.index("log_type")] = "bogus"
    with pytest.raises(ValidationError):
        AgentLog.validate_row(values)
