"""The access/export package of a data-subject request: one zip with JSON and CSV files.

It holds everything Veil keeps about the person (the profile and every profile merged into
it) and nothing about anyone else: every read is keyed by the person's profile ids.

Files: `manifest.json`, `profile.json`, and for each of traits, identifiers, interactions,
consents, segments and access_log (the audit records of who touched this person's data) a
`.json` and a `.csv`.
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from consent.model import ConsentRecord
from graph.profiles import ProfileRecord

FORMAT_VERSION = 1
AUDIT_LIMIT = 100_000


class _Sources(Protocol):
    """What the package is read from (the repositories)."""

    def person_ids(self, *, workspace: str, profile_id: str) -> list[str]: ...
    def interactions(self, *, workspace: str, profile_id: str) -> list[dict[str, Any]]: ...
    def segments(self, *, workspace: str, ids: list[str]) -> list[dict[str, Any]]: ...


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "value") and not isinstance(value, (str, int, float, bool)):
        return value.value
    return value


def _csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    fields: list[str] = []
    for r in rows:
        fields.extend(k for k in r if k not in fields)
    writer = csv.DictWriter(out, fieldnames=fields or ["empty"])
    writer.writeheader()
    for r in rows:
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (dict, list)) else v
                         for k, v in _jsonable(r).items()})
    return out.getvalue()


def _consent_row(r: ConsentRecord) -> dict[str, Any]:
    row = asdict(r)
    return {k: _jsonable(v) for k, v in row.items()}


def build_package(*, case_id: str, workspace: str, profile: ProfileRecord, sources: _Sources,
                  consents: list[ConsentRecord], audit_records: list[Any],
                  open_rows: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] = lambda rows: rows,
                  ) -> dict[str, list[dict[str, Any]] | dict[str, Any]]:
    """The package's tables for one person (see the module docstring); `open_rows` decrypts
    values sealed at rest (privacy.reader.ProfileReader.open_rows)."""
    ids = sources.person_ids(workspace=workspace, profile_id=profile.id)
    traits = [{"name": k, "value": v, "provenance": profile.trait_sources.get(k)}
              for k, v in sorted(profile.traits.items())]
    identifiers = [{"type": t, "value": v} for t, v in profile.identifiers]
    interactions = []
    for e in open_rows(sources.interactions(workspace=workspace, profile_id=profile.id)):
        e = dict(e)
        for blob in ("properties", "context"):
            if isinstance(e.get(blob), str):
                e[blob] = json.loads(e[blob])
        e.pop("workspace", None)
        interactions.append(e)
    access_log = [{
        "seq": s.seq, "at": s.event.at, "actor": s.event.actor, "actor_kind": s.event.actor_kind,
        "role": s.event.role, "action": s.event.action, "resource": s.event.resource,
        "purpose": s.event.purpose, "decision": s.event.decision, "reason": s.event.reason,
        "fields": list(s.event.fields_returned)} for s in sorted(audit_records, key=lambda s: s.seq)]
    profile_doc = {
        "id": profile.id, "status": profile.status, "first_seen": profile.first_seen,
        "last_seen": profile.last_seen, "restricted": profile.restricted, "merged_profiles": ids[1:],
        "traits": profile.traits, "identifiers": identifiers,
    }
    return {
        "profile": _jsonable(profile_doc),
        "traits": traits, "identifiers": identifiers, "interactions": interactions,
        "consents": [_consent_row(r) for r in consents],
        "segments": sources.segments(workspace=workspace, ids=ids),
        "access_log": access_log,
    }


def write_package(tables: dict[str, Any], *, case_id: str, directory: Path) -> Path:
    """Write the tables as `<directory>/<case_id>.zip` (0600) and return the path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{case_id}.zip"
    counts = {k: len(v) for k, v in tables.items() if isinstance(v, list)}
    manifest = {"format_version": FORMAT_VERSION, "case_id": case_id,
                "generated_at": datetime.now(UTC).isoformat(), "counts": counts,
                "files": ["profile.json", *sorted(f"{k}.{x}" for k in counts for x in ("json", "csv"))]}
    tmp = path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2))
        z.writestr("profile.json", json.dumps(tables["profile"], ensure_ascii=False, indent=2, default=str))
        for name in counts:
            z.writestr(f"{name}.json", json.dumps(_jsonable(tables[name]), ensure_ascii=False, indent=2, default=str))
            z.writestr(f"{name}.csv", _csv(tables[name]))
    tmp.chmod(0o600)
    tmp.replace(path)
    return path
