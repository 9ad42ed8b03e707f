"""structlog JSON logging: service name and event context bound, personal data redacted.

Standard-library loggers (uvicorn, aiokafka, faststream) go through the same processors, so every
line is JSON and none carries a raw email address or token.
"""

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from opentelemetry import trace

EMAIL_PATTERN = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9.\-]+\.[A-Za-z]{2,}")
TOKEN_QUERY_PATTERN = re.compile(r"(token=)[^&\s\"']+", re.IGNORECASE)
BEARER_PATTERN = re.compile(r"(bearer\s+)[^\s\"']+", re.IGNORECASE)
SECRET_KEYS = frozenset({"token", "authorization", "password", "secret", "email", "to", "phone"})
REDACTED = "[redacted]"


def redact_text(text: str) -> str:
    text = EMAIL_PATTERN.sub("[email]", text)
    text = TOKEN_QUERY_PATTERN.sub(r"\1" + REDACTED, text)
    return BEARER_PATTERN.sub(r"\1" + REDACTED, text)


def _redact_value(key: str, value: Any) -> Any:
    if key.lower() in SECRET_KEYS and value is not None:
        return REDACTED
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {k: _redact_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact_value(key, v) for v in value]
    return value


def redact_personal_data(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: mask email addresses, tokens and secrets anywhere in a log line."""
    return {key: _redact_value(key, value) for key, value in event_dict.items()}


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the active span's ``trace_id`` and ``span_id`` (hex, as OTLP
    backends show them), when there is one."""
    span_context = trace.get_current_span().get_span_context()
    if span_context.is_valid:
        event_dict.setdefault("trace_id", trace.format_trace_id(span_context.trace_id))
        event_dict.setdefault("span_id", trace.format_span_id(span_context.span_id))
    return event_dict


def configure_logging(
    *, service: str, level: str = "INFO", stream: TextIO = sys.stdout, trace_ids: bool = False
) -> None:
    """``trace_ids`` (when tracing is on) adds the active span's ids to every line."""
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _bind_service(service),
    ]
    if trace_ids:
        shared.append(add_trace_ids)
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_personal_data,
            structlog.processors.JSONRenderer(),
        ],
    )
    handler = logging.StreamHandler(stream)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiokafka", "faststream", "uvicorn.access"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True


def _bind_service(service: str) -> structlog.types.Processor:
    def processor(
        _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict.setdefault("service", service)
        return event_dict

    return processor


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.stdlib.get_logger(name)
