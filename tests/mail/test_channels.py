"""Chat channels: secrets filled in only when sending, never printed; long messages split."""
from __future__ import annotations

import pytest

from monitor.errors import DeliveryError
from monitor.mail.channels import display, expand, notifier_for, shown


def test_secrets_are_references_and_never_printed():
    assert expand("wecombot://${WECOM_KEY}", {"WECOM_KEY": "k-123"}) == "wecombot://k-123"
    with pytest.raises(DeliveryError) as missing:
        expand("wecombot://${WECOM_KEY}", {})
    assert "WECOM_KEY is not set" in str(missing.value)
    assert shown("wecombot://${WECOM_KEY}") == "wecombot://${WECOM_KEY}"
    assert shown("wecombot://k-123") == "wecombot://…"  # written inline: shown by its scheme only
    assert display("analyst@example.com") == "analyst@example.com"


def test_every_service_splits_an_over_long_message():
    notifier = notifier_for("tgram://123456789:abcdefghijklmnopqrstuvwxyzABCDEFGHI/12345")
    assert notifier is not None and [s.overflow_mode.value for s in notifier] == ["split"]
    kept = notifier_for("json://127.0.0.1:9/hook?overflow=truncate")
    assert kept is not None and [s.overflow_mode.value for s in kept] == ["truncate"]
    assert notifier_for("nosuchservice://x") is None
