"""The gateway's logging: its own INFO lines kept, aiosmtpd's per-command trace not."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from mailward.cli.serve import PROTOCOL_TRACE_LOGGER, configure_logging


@pytest.fixture
def restore_levels() -> Iterator[None]:
    trace = logging.getLogger(PROTOCOL_TRACE_LOGGER)
    root = logging.getLogger()
    before = (trace.level, root.level, list(root.handlers))
    yield
    trace.setLevel(before[0])
    root.setLevel(before[1])
    root.handlers[:] = before[2]


def test_the_smtp_command_trace_is_not_logged(restore_levels: None) -> None:
    logging.getLogger().handlers[:] = []  # as in a fresh process (restored after)
    configure_logging()
    assert not logging.getLogger(PROTOCOL_TRACE_LOGGER).isEnabledFor(logging.INFO)
    assert logging.getLogger(PROTOCOL_TRACE_LOGGER).isEnabledFor(logging.WARNING)


def test_the_gateways_own_info_lines_are_logged(restore_levels: None) -> None:
    logging.getLogger().setLevel(logging.WARNING)
    logging.getLogger().handlers[:] = []  # as in a fresh process (restored after)
    configure_logging()
    assert logging.getLogger("mailward.some_module").isEnabledFor(logging.INFO)
