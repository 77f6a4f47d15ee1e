"""Bulk import of CRM members and historical events from CSV/JSONL, through the ingest service."""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from collect.events import identifier_type
from collect.service import IngestService

# Member columns recognised without a mapping (lower-cased header -> trait).
MEMBER_COLUMNS = {
    "member_id": "member_id", "memberid": "member_id", "member_no": "member_id", "會員編號": "member_id",
    "name": "name", "姓名": "name", "email": "email", "e-mail": "email", "電子郵件": "email",
    "phone": "phone", "mobile": "phone", "手機": "phone", "電話": "phone",
    "birthday": "birthday", "生日": "birthday", "member_tier": "member_tier", "tier": "member_tier",
    "會員等級": "member_tier", "city": "city", "gender": "gender", "user_id": "user_id",
}


@dataclass
class ImportReport:
    """Row-level outcome of an import."""

    rows: int = 0
    stored: int = 0
    duplicates: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly form."""
        return {"rows": self.rows, "stored": self.stored, "duplicates": self.duplicates,
                "failed": len(self.errors), "errors": self.errors}


def parse_mapping(pairs: list[str]) -> dict[str, str]:
    """`trait=Column` pairs into {column: trait}."""
    mapping = {}
    for pair in pairs:
        trait, sep, column = pair.partition("=")
        if not sep or not trait.strip() or not column.strip():
            raise ValueError(f"mapping {pair!r} must look like trait=Column")
        mapping[column.strip()] = trait.strip()
    return mapping


def parse_identifiers(pairs: list[str]) -> dict[str, str]:
    """`type=Column` pairs (a CRM column declared an identifier) into {column: identifier type}."""
    out = {}
    for pair in pairs:
        kind, sep, column = pair.partition("=")
        kind = identifier_type(kind) if sep else ""
        if not kind or not column.strip():
            raise ValueError(f"identifier {pair!r} must look like type=Column, e.g. national_id=身分證字號")
        if kind in ("user_id", "anonymous_id"):
            raise ValueError(f"identifier {pair!r}: {kind} is not a CRM identifier type")
        out[column.strip()] = kind
    return out


def member_rows_to_events(
    rows: Iterator[dict[str, str]], *, mapping: dict[str, str], file_tag: str,
    identifiers: dict[str, str] | None = None, member_id_type: str = "user_id",
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Each CSV row as an identify event (line number, event or None, error).

    `identifiers` ({column: type}) become `context.externalIds`, resolved with the type's priority
    and per-profile limit (identity rules), so rows sharing a national ID, card or phone are one
    person. `member_id_type` other than `user_id` stores the member number under that type (a CRM
    record id that a person may have several of) instead of as the login user id (one per profile).
    """
    identifiers = identifiers or {}
    for line, row in enumerate(rows, start=2):
        if None in row:
            yield line, None, "row has more values than the header has columns"
            continue
        traits: dict[str, Any] = {}
        external: list[dict[str, str]] = []
        for column, value in row.items():
            if value in (None, ""):
                continue
            if column in identifiers:
                external.append({"type": identifiers[column], "id": value.strip()})
                continue
            trait = mapping.get(column) or MEMBER_COLUMNS.get(column.strip().lower())
            if trait:
                traits[trait] = value.strip()
        user_id = traits.pop("user_id", None) or traits.get("member_id")
        if not user_id:
            yield line, None, "row has no member_id or user_id"
            continue
        digest = hashlib.sha256(json.dumps([traits, external], sort_keys=True, ensure_ascii=False).encode()
                                ).hexdigest()[:16]
        event: dict[str, Any] = {
            "type": "identify", "userId": user_id, "traits": traits,
            "messageId": f"import-{file_tag}-{user_id}-{digest}",
            "context": {"channel": "crm", **({"externalIds": external} if external else {})},
        }
        if member_id_type != "user_id":
            traits.pop("member_id", None)
            traits["crm_member_no"] = user_id
            del event["userId"]
            event["anonymousId"] = f"{member_id_type}:{user_id}"
            event["context"]["externalIds"] = [{"type": member_id_type, "id": user_id}, *external]
        yield line, event, None


def with_identifiers(
    events: Iterator[tuple[int, dict[str, Any] | None, str | None]], paths: dict[str, str]
) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Add the values at dotted `paths` ({path: type}, e.g. traits.national_id) of each event as
    `context.externalIds`, so historical events are resolved by them too."""
    for line, event, error in events:
        if event is not None and paths:
            extra = []
            for path, kind in paths.items():
                value: Any = event
                for part in path.split("."):
                    value = value.get(part) if isinstance(value, dict) else None
                if isinstance(value, (str, int)) and not isinstance(value, bool) and str(value).strip():
                    extra.append({"type": kind, "id": str(value).strip()})
            if extra:
                ctx = event.get("context") if isinstance(event.get("context"), dict) else {}
                current = ctx.get("externalIds") if isinstance(ctx.get("externalIds"), list) else []
                event = {**event, "context": {**ctx, "externalIds": [*current, *extra]}}
        yield line, event, error


def import_events(
    service: IngestService, events: Iterator[tuple[int, dict[str, Any] | None, str | None]], *,
    workspace: str, source: str, batch_size: int = 500, progress: Callable[[int], None] | None = None,
) -> ImportReport:
    """Ingest (line, event, error) tuples in batches; bad rows are reported, good rows stored."""
    report = ImportReport()
    batch: list[tuple[int, dict[str, Any]]] = []

    def flush() -> None:
        if not batch:
            return
        result = service.ingest([e for _, e in batch], workspace=workspace, source=source)
        report.stored += result.stored
        report.duplicates += result.duplicates
        for rej in result.rejected:
            report.errors.append({"line": batch[rej.index][0], "code": rej.code, "message": rej.message,
                                  "field": rej.field})
        if progress:
            progress(len(batch))
        batch.clear()

    for line, event, error in events:
        report.rows += 1
        if error is not None or event is None:
            report.errors.append({"line": line, "code": "invalid_row", "message": error or "invalid row"})
            if progress:
                progress(1)
            continue
        batch.append((line, event))
        if len(batch) >= batch_size:
            flush()
    flush()
    report.errors.sort(key=lambda e: e["line"])
    return report


def read_csv(path: Path) -> Iterator[dict[str, str]]:
    """Rows of a UTF-8 (BOM tolerated) CSV file."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        yield from csv.DictReader(fh)


def read_jsonl_events(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Each JSONL line as an event (line number, event or None, error)."""
    with path.open(encoding="utf-8") as fh:
        for line, text in enumerate(fh, start=1):
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                yield line, None, f"malformed JSON: {exc.msg} at column {exc.colno}"
                continue
            if not isinstance(obj, dict):
                yield line, None, "line is not a JSON object"
                continue
            yield line, obj, None


def count_lines(path: Path) -> int:
    """Number of lines (for progress bars)."""
    with path.open("rb") as fh:
        return sum(1 for _ in fh)
