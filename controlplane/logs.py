"""Structured logging: structlog events with fields, readable in a terminal or JSON."""

from __future__ import annotations

import logging
import sys
from typing import Literal

import structlog

__all__ = ["LogFormat", "configure_logging", "debug_enabled", "get_logger", "info_enabled"]

LogFormat = Literal["console", "json"]


def configure_logging(log_format: LogFormat = "console", level: str = "info") -> None:
    """Route structlog to stderr; debug events are dropped before any work when filtered."""
    rendering: list[structlog.typing.Processor]
    if log_format == "json":
        # One JSON object per line, tracebacks included as data rather than text.
        rendering = [structlog.processors.dict_tracebacks, structlog.processors.JSONRenderer()]
    else:
        rendering = [structlog.dev.ConsoleRenderer(colors=sys.stderr.isatty())]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            *rendering,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def get_logger(subsystem: str) -> structlog.typing.FilteringBoundLogger:
    """A logger bound to one subsystem (`mock`, `admin`, `server`)."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(subsystem=subsystem)
    return logger


def debug_enabled(logger: structlog.typing.FilteringBoundLogger) -> bool:
    """Whether `logger` emits debug events (asked once, not per request).

    The mock handler asks when a server starts, so the level in force then (from
    `configure_logging`, or structlog's defaults, which let debug through) holds for
    that server's life; `structlog.testing.capture_logs` around the start sees them.
    """
    return bool(logger.bind().is_enabled_for(logging.DEBUG))


def info_enabled(logger: structlog.typing.FilteringBoundLogger) -> bool:
    """Whether `logger` emits info events, asked once as `debug_enabled` is: a hot path
    whose info event is filtered (`--log-level warning`) skips building it."""
    return bool(logger.bind().is_enabled_for(logging.INFO))
