"""Just enough PromQL reading for the checks: metric names, threshold operands, Grafana macros."""

from __future__ import annotations

import re

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\]]*\]")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)")
_IDENTIFIER = re.compile(r"(?<![\w:.$])([A-Za-z_:][\w:]*)(\s*\()?")
_KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "group_left", "group_right", "inf", "nan"}
)
_SET_OPERATOR = re.compile(r"(and|or|unless)\b(\s*(?:on|ignoring)\s*\([^()]*\))?")
_COMPARISON = re.compile(r"==|!=|>=|<=|>|<")
_SCALAR = re.compile(r"\s*(?:bool\s+)?[-+*/().\d\s]+")

# What the live test substitutes for the dashboard's Grafana variables.
GRAFANA_MACROS = {"$__rate_interval": "1m", "${model}": ".*", "$model": ".*"}


def metric_names(expr: str) -> frozenset[str]:
    """Every metric (or recorded series) name a PromQL expression selects."""
    text = _STRING.sub('""', expr)
    text = _MATCHERS.sub("", text)
    text = _RANGE.sub("", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENTIFIER.finditer(text):
        name, call = match.group(1), match.group(2)
        if call or name in _KEYWORDS:
            continue
        names.add(name)
    return frozenset(names)


def _top_level_spans(expr: str) -> list[tuple[int, int]]:
    """(start, end) of the stretches of `expr` outside brackets and strings."""
    spans: list[tuple[int, int]] = []
    depth = 0
    quote: str | None = None
    start = 0
    for i, char in enumerate(expr):
        if quote:
            if char == quote and expr[i - 1] != "\\":
                quote = None
                if depth == 0:
                    start = i + 1
            continue
        if char in "\"'`":
            if depth == 0:
                spans.append((start, i))
            quote = char
        elif char in "([{":
            if depth == 0:
                spans.append((start, i))
            depth += 1
        elif char in ")]}":
            depth -= 1
            if depth == 0:
                start = i + 1
    if depth == 0 and quote is None:
        spans.append((start, len(expr)))
    return [(a, b) for a, b in spans if b > a]


def _split_set_operations(expr: str) -> list[str]:
    cuts: list[tuple[int, int]] = []
    for a, b in _top_level_spans(expr):
        segment = expr[a:b]
        for match in re.finditer(r"(?<![\w:])(and|or|unless)(?![\w:])", segment):
            end = a + match.end()
            modifier = re.match(r"\s*(?:on|ignoring)\s*\([^()]*\)", expr[end:])
            cuts.append((a + match.start(), end + (modifier.end() if modifier else 0)))
    parts, last = [], 0
    for start, end in cuts:
        parts.append(expr[last:start])
        last = end
    parts.append(expr[last:])
    return [p.strip() for p in parts if p.strip()]


def _strip_threshold(operand: str) -> str:
    last: re.Match[str] | None = None
    for a, b in _top_level_spans(operand):
        for match in _COMPARISON.finditer(operand, a, b):
            last = match
    if last is None:
        return operand
    right = operand[last.end() :]
    if not _SCALAR.fullmatch(right):
        return operand
    return operand[: last.start()].strip()


def threshold_operands(expr: str) -> list[str]:
    """An alert's operands with their scalar thresholds removed: the values it compares.

    `a > 0.1 and on (model) b > 5 / 300` gives `["a", "b"]`; an operand without a
    comparison against a number is returned as written.
    """
    return [_strip_threshold(part) for part in _split_set_operations(expr)]


def grafana_to_promql(expr: str) -> str:
    """A panel query with Grafana's variables replaced by what a plain Prometheus accepts."""
    for macro in sorted(GRAFANA_MACROS, key=len, reverse=True):
        expr = expr.replace(macro, GRAFANA_MACROS[macro])
    return expr
