"""Alert settings read from the environment: the rules' thresholds and the delivery sinks."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from dataclasses import dataclass


def _number(env: Mapping[str, str], name: str, default: float) -> float:
    """A non-negative number from ``env[name]`` ("2", "2.5", "2%"), ``default`` when unset or empty."""
    raw = env.get(name, "").strip().rstrip("%").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name} must be a number; got {env[name]!r}") from None
    if not value >= 0:
        raise ValueError(f"{name} must be zero or more; got {env[name]!r}")
    return value


@dataclass(frozen=True)
class Thresholds:
    """When the forecast rules fire (``rules.conditions``)."""

    overrun_pct: float = 2.0  # eac_over_gmp: EAC above GMP by more than this many percent
    jump_pct: float = 5.0  # eac_jump: EAC up more than this many percent since the previous month
    pending_dollars: float = 100_000.0  # pending_mappings: more than this under pending division names

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Thresholds:
        """``GMP_ALERT_OVERRUN_PCT``, ``GMP_ALERT_JUMP_PCT`` and ``GMP_ALERT_PENDING_DOLLARS``."""
        env = os.environ if env is None else env
        return cls(
            overrun_pct=_number(env, "GMP_ALERT_OVERRUN_PCT", cls.overrun_pct),
            jump_pct=_number(env, "GMP_ALERT_JUMP_PCT", cls.jump_pct),
            pending_dollars=_number(env, "GMP_ALERT_PENDING_DOLLARS", cls.pending_dollars),
        )


TRUE_WORDS, FALSE_WORDS = ("1", "true", "yes", "on"), ("", "0", "false", "no", "off")


def _flag(env: Mapping[str, str], name: str) -> bool:
    raw = env.get(name, "").strip().lower()
    if raw not in TRUE_WORDS + FALSE_WORDS:
        raise ValueError(
            f"{name} must be one of {', '.join(w for w in TRUE_WORDS + FALSE_WORDS if w)}; got {env[name]!r}"
        )
    return raw in TRUE_WORDS


@dataclass(frozen=True)
class SmtpSettings:
    """An SMTP server to send alert e-mails through."""

    host: str
    port: int
    sender: str
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout_s: float = 20.0


@dataclass(frozen=True)
class SinkSettings:
    """Where alerts go: a Slack-compatible webhook and/or e-mail recipients (none: recorded only)."""

    webhook_url: str = ""
    email_to: tuple[str, ...] = ()
    smtp: SmtpSettings | None = None
    timeout_s: float = 10.0

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SinkSettings:
        """``GMP_ALERT_WEBHOOK``; ``GMP_ALERT_EMAIL`` (comma-separated) with ``GMP_SMTP_HOST``, ``GMP_SMTP_PORT``
        (25, or 587 with ``GMP_SMTP_STARTTLS``), ``GMP_SMTP_USER``, ``GMP_SMTP_PASSWORD``, ``GMP_SMTP_FROM``."""
        env = os.environ if env is None else env
        webhook = env.get("GMP_ALERT_WEBHOOK", "").strip()
        if webhook and not webhook.startswith(("http://", "https://")):
            raise ValueError("GMP_ALERT_WEBHOOK must be an http:// or https:// URL")
        recipients = tuple(a.strip() for a in env.get("GMP_ALERT_EMAIL", "").split(",") if a.strip())
        bad = [a for a in recipients if "@" not in a]
        if bad:
            raise ValueError(f"GMP_ALERT_EMAIL: not an e-mail address: {', '.join(bad)}")
        smtp = None
        if recipients:
            host = env.get("GMP_SMTP_HOST", "").strip()
            if not host:
                raise ValueError(
                    "GMP_ALERT_EMAIL is set but GMP_SMTP_HOST is not: alerts need an SMTP server to go out by e-mail"
                )
            starttls = _flag(env, "GMP_SMTP_STARTTLS")
            port_text = env.get("GMP_SMTP_PORT", "").strip() or ("587" if starttls else "25")
            if not port_text.isdigit() or not 0 < int(port_text) < 65536:
                raise ValueError(f"GMP_SMTP_PORT must be a port number; got {port_text!r}")
            smtp = SmtpSettings(
                host=host,
                port=int(port_text),
                starttls=starttls,
                sender=env.get("GMP_SMTP_FROM", "").strip() or f"gmp-alerts@{socket.getfqdn()}",
                user=env.get("GMP_SMTP_USER", ""),
                password=env.get("GMP_SMTP_PASSWORD", ""),
            )
        return cls(webhook_url=webhook, email_to=recipients, smtp=smtp)

    @property
    def configured(self) -> bool:
        return bool(self.webhook_url or self.email_to)
