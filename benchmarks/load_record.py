"""What the load benchmark records: every request's latency and outcome, and the client's retries."""

from __future__ import annotations

import logging
import math
import re
import time
from collections import defaultdict

from benchmarks.harness import redact


def percentile(sorted_values: list[float], p: float) -> float | None:
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, math.ceil(p / 100 * len(sorted_values)))
    return round(sorted_values[rank - 1], 1)


class Recorder:
    """Every request's latency and outcome (locust's request event)."""

    def __init__(self) -> None:
        self.samples: list[tuple[str, str, float, float]] = []  # (kind, name, ms, started at: time.time())
        self.by_name: dict[str, list[float]] = defaultdict(list)
        self.errors_by_name: dict[str, int] = defaultdict(int)
        self.errors = 0
        self.error_examples: list[dict] = []
        self.conflicts = 0
        self.conflict_examples: list[dict] = []
        self.harness_errors: list[str] = []
        self.retries = RetryCounter()

    def on_request(self, request_type, name, response_time, response=None, context=None, exception=None, url=None,
                   start_time=None, **_kwargs) -> None:
        context = context or {}
        kind = context.get("kind", "page")
        self.samples.append((kind, name, response_time, start_time or time.time()))
        self.by_name[name].append(response_time)
        status = getattr(response, "status_code", 0) or 0
        if 200 <= status < 300 or status in context.get("ok", ()):
            return
        example = {"status": status or None, "method": request_type, "url": _path(url), "name": name}
        detail = _error_detail(response, exception)
        if detail:
            example["error"] = detail
        if status == 409 and context.get("conflict_ok"):
            self.conflicts += 1
            if len(self.conflict_examples) < 5:
                self.conflict_examples.append(example)
            return
        self.errors += 1
        self.errors_by_name[name] += 1
        if len(self.error_examples) < 8:
            self.error_examples.append(example)

    def on_user_error(self, user_instance, exception, tb, **_kwargs) -> None:
        if len(self.harness_errors) < 5:
            self.harness_errors.append(redact(f"{type(user_instance).__name__}: {type(exception).__name__}: {exception}")[:300])


def _path(url: str | None) -> str | None:
    if not url:
        return url
    match = re.match(r"^https?://[^/]+(/.*)?$", url)
    return (match.group(1) or "/") if match else url


def _error_detail(response, exception) -> str | None:
    if response is not None and getattr(response, "status_code", 0):
        try:
            error = response.json().get("error")
        except (ValueError, AttributeError):
            error = None
        if isinstance(error, dict):
            return redact(f"{error.get('code')}: {error.get('message')}")[:200]
        location = response.headers.get("Location")
        if location:
            return f"redirect to {_path(location)}"
        return None
    if exception is not None:
        return redact(f"{type(exception).__name__}: {exception}")[:200]
    return None


class RetryCounter(logging.Handler):
    """urllib3's "Retrying ... after connection broken" warnings: requests sent twice."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.examples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if not message.startswith("Retrying"):
            return
        self.count += 1
        if len(self.examples) < 3:
            self.examples.append(redact(re.sub(r"https?://[^/\s]+", "", message))[:240])
