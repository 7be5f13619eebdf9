"""Records as Redis holds them (flat hashes of strings) turned into the contract's bodies."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from nutgraf.contract import Checks, InputStats


def _defaults(model: type[BaseModel]) -> dict[str, Any]:
    """The fields of `model` that have defaults, with them: filled into stored results
    written before the field existed. Merged rather than validated: every job read (and
    so every cache hit) builds a body, and two validations were a tenth of a hit's time."""
    return {
        name: field.get_default(call_default_factory=True)
        for name, field in model.model_fields.items()
        if not field.is_required()
    }


_CHECK_DEFAULTS = _defaults(Checks)
_INPUT_DEFAULTS = _defaults(InputStats)


def callback_body(raw: dict[str, str]) -> dict[str, Any] | None:
    """The `callback` part of a job or batch body: where it is sent, and every attempt."""
    if not raw.get("callback_url"):
        return None
    return {
        "url": raw["callback_url"],
        "state": raw.get("callback_state") or "waiting",
        "attempts": json.loads(raw.get("callback_attempts") or "[]"),
    }


def public_body(raw: dict[str, str]) -> dict[str, Any]:
    """Turn a job's Redis hash into the contract's job body."""
    result = json.loads(raw["result"]) if raw.get("result") else {}
    return {
        "id": raw["id"],
        "status": raw["status"],
        "summary": result.get("summary"),
        "bullets": result.get("bullets"),
        "sentences": result.get("sentences"),
        # Results cached before a check was added lack its field: the defaults fill it.
        "checks": {**_CHECK_DEFAULTS, **result["checks"]} if "checks" in result else None,
        "provenance": result.get("provenance"),
        "model": json.loads(raw["model"]),
        "options": json.loads(raw.get("options") or "{}"),
        "cached": raw.get("cached") == "1",
        "created_at": raw["created_at"],
        "completed_at": raw.get("completed_at") or None,
        "input": {**_INPUT_DEFAULTS, **result["input"]}
        if "input" in result
        else json.loads(raw.get("input") or "null"),
        "output": {"tokens": result["generated_tokens"]} if "generated_tokens" in result else None,
        "error": json.loads(raw["error"]) if raw.get("error") else None,
        "callback": callback_body(raw),
        # Records from before lanes were all interactive.
        "priority": "bulk" if raw.get("lane") == "bulk" else "interactive",
        "ref": raw.get("ref") or None,
        "queue": None,  # filled in by the store while the job is queued (Jobs.body)
    }


def batch_body(raw: dict[str, str], counts: dict[str, int]) -> dict[str, Any]:
    """Turn a batch's Redis hash and its item counts into the contract's batch body."""
    total, done = counts["total"], int(raw["done"])
    status = raw["status"]
    if status == "queued" and done + counts["running"]:
        status = "running"
    return {
        "id": raw["id"],
        "status": status,
        "created_at": raw["created_at"],
        "completed_at": raw.get("completed_at") or None,
        "counts": counts,
        "progress": round(done / total, 4) if total else 1.0,
        "callback": callback_body(raw),
        "results_url": f"/v1/batches/{raw['id']}/results",
        "eta_s": None,  # filled in by the store while items are queued (Batches.get_batch)
    }
