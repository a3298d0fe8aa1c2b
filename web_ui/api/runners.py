"""``/api/runners/...``: runner records, their sessions and their progress (hipcam.records.runners,
hipcam.records.progress). Writes need the PIN; a refused value is a 400, an unknown runner a 404, a
name another runner has (in any case) a 409, and nothing is stored then."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import Blueprint, Response, jsonify

from hipcam.records import progress
from hipcam.records.runners import RunnerConflict, RunnerInvalid, RunnerNotFound
from web_ui.api import body
from web_ui.deps import deps
from web_ui.security import ApiError, require_pin

bp = Blueprint("api_runners", __name__)


@contextmanager
def refusals() -> Iterator[None]:
    """The runner store's refusals as the API's 4xx (also for the session routes that name a runner)."""
    try:
        yield
    except RunnerInvalid as exc:
        raise ApiError(400, str(exc)) from None
    except RunnerNotFound as exc:
        raise ApiError(404, str(exc)) from None
    except RunnerConflict as exc:
        raise ApiError(409, str(exc)) from None


@bp.get("/runners")
def list_runners() -> Response:
    return jsonify(runners=deps().store.runners.list())


@bp.post("/runners")
@require_pin
def create_runner() -> tuple[Response, int]:
    fields = body.runner_fields(body.json_object(), creating=True)
    with refusals():
        created = deps().store.runners.create(**fields)
    return jsonify(created), 201


@bp.get("/runners/<int:runner_id>")
def get_runner(runner_id: int) -> Response:
    """The record, its sessions (oldest first) and its progress (hipcam.records.progress)."""
    store = deps().store
    found = store.runners.get(runner_id)
    if found is None:
        raise ApiError(404, f"no runner {runner_id}")
    return jsonify(
        runner=found, sessions=store.runners.sessions(runner_id), progress=progress.runner_progress(store, runner_id)
    )


@bp.patch("/runners/<int:runner_id>")
@require_pin
def update_runner(runner_id: int) -> Response:
    fields = body.runner_fields(body.json_object(), creating=False)
    with refusals():
        return jsonify(deps().store.runners.update(runner_id, **fields))
