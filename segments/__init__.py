"""Segments: a JSON condition language compiled to parameterised Cypher, saved definitions and
membership history. See `segments.model` for the language."""

from segments.compiler import Catalog, CompiledSegment, compile_segment
from segments.model import (
    Condition,
    Issue,
    SegmentError,
    SegmentNotFound,
    definition_json_schema,
    parse_definition,
)
from segments.service import Preview, SegmentService

__all__ = [
    "Catalog", "CompiledSegment", "Condition", "Issue", "Preview", "SegmentError", "SegmentNotFound",
    "SegmentService", "compile_segment", "definition_json_schema", "parse_definition",
]
