"""Every setting, declared once, typed, with its default.

Settings live in a TOML file (see :mod:`softclock.paths`). Passwords never do:
they are in the OS keyring (:mod:`softclock.secrets`). Unknown keys are kept
out and reported, so a typo does not silently do nothing.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import tomli_w

from softclock.errors import SettingsError

log = logging.getLogger("softclock.settings")

TRANSPORTS = ("udp", "tcp", "tls")
SRTP_MODES = ("off", "optional", "mandatory")


def split_host_port(value: str) -> tuple[str, int | None]:
    """``"host:5060"`` -> ``("host", 5060)``; ``"[::1]:5060"`` -> ``("::1", 5060)``."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif value.count(":") == 1:
        host, port = value.split(":")
    else:
        host, port = value, ""
    if port and not port.isdigit():
        raise SettingsError(f"{value!r}: the port must be a number")
    return host, int(port) if port else None


@dataclass
class AccountSettings:
    """The SIP account. Empty ``server`` means no account is configured."""

    server: str = ""  # registrar host[:port]
    user: str = ""
    auth_id: str = ""  # digest user name, when it differs from ``user``
    domain: str = ""  # SIP domain of the address of record; defaults to the server host
    transport: str = "udp"
    outbound_proxy: str = ""  # host[:port]; empty means none
    display_name: str = ""
    auto_answer: bool = False
    srtp: str = "off"  # off | optional | mandatory: encrypted media (SDES keys)
    tls_ca_file: str = ""  # CA certificates (PEM) that the TLS server must chain to; "" = the system's
    backup_servers: str = ""  # comma-separated host[:port] registrars, tried when `server` stops answering
    register_expires_s: int = 300
    retry_interval_s: int = 30

    @property
    def configured(self) -> bool:
        return bool(self.server and self.user)

    @property
    def sip_domain(self) -> str:
        if self.domain:
            return self.domain
        return split_host_port(self.server)[0]

    @property
    def backups(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in self.backup_servers.split(",") if s.strip())

    @property
    def address(self) -> str:
        """``user@domain``: the account as people read it."""
        return f"{self.user}@{self.sip_domain}"


@dataclass
class SipSettings:
    bind_address: str = ""  # local address for SIP and RTP; "" = all interfaces
    local_port: int = 0  # 0: any free port
    null_audio: bool = False  # true: no sound at all (headless machines, tests)
    log_level: int = 3  # pjsip log level sent to the softclock.pjsip logger
    keepalive_seconds: int = (
        15  # keep-alives to the server so NAT bindings stay open (UDP CRLF, TCP/TLS probes); 0 = off
    )
    stun_servers: list[str] = field(default_factory=list)  # host[:port] each, for NAT discovery; [] = none
    ice: bool = False  # ICE for media behind NAT (STUN and TURN servers help it)
    turn_server: str = ""  # host[:port] of a TURN relay for media; "" = none; its password is in the keyring
    turn_user: str = ""  # TURN user name
    allow_direct_calls: bool = False  # true: accept calls sent straight to this phone, not only via the registrar/proxy


@dataclass
class AudioSettings:
    """Sound devices by stable identity (see softclock.sound.devices); "" = the system default.

    Linux: the PulseAudio/PipeWire device name; Windows/macOS: "<host API>:<device name>".
    """

    microphone: str = ""
    speaker: str = ""
    ringer: str = ""  # where incoming calls ring; "" = the speaker


@dataclass
class BillingSettings:
    timekeeper: str = ""  # defaults to the account user, then the OS user
    default_region: str = "US"  # for numbers dialled without a country code
    increment_min: int = 6  # billing increment: 1, 5, 6, 10 or 15 minutes
    rounding: str = "up"  # up | nearest
    minimum_units: int = 1  # minimum billed increments of a billable entry
    short_call_s: int = 30  # shorter calls become non-billable drafts marked "short"
    bill_hold: bool = True  # whether time on hold bills
    split_rounding: str = "per_call"  # per_call: round a split call once and allocate; per_entry
    narrative_required: bool = False

    def policy(self) -> Any:
        """The firm's :class:`softclock.billing.Policy` from these settings."""
        from softclock.billing import Policy

        return Policy(
            increment_min=self.increment_min,
            rounding=self.rounding,
            minimum_units=self.minimum_units,
            short_call_s=self.short_call_s,
            bill_hold=self.bill_hold,
            split_rounding=self.split_rounding,
            narrative_required=self.narrative_required,
        )


RECORDING_POLICIES = ("off", "on_demand", "always")


@dataclass
class RecordingSettings:
    policy: str = "off"  # off | on_demand | always (firm policy; check the consent law that applies)
    announcement: str = "beep"  # what the far end hears before recording: "beep", a WAV file, or ""
    retention_days: int = 90  # recordings older than this are deleted at start-up; 0 keeps them


SSL_MODES = ("", "disable", "allow", "prefer", "require", "verify-ca", "verify-full")


@dataclass
class CentralSettings:
    """The firm's central billing store (see softclock.sync); its password is in the keyring."""

    url: str = ""  # SQLAlchemy URL without a password, e.g. postgresql://alice@db.firm.example/billing
    sslmode: str = ""  # PostgreSQL sslmode; "" = libpq's default (prefer)
    sslrootcert: str = ""  # CA file for verify-ca / verify-full; "" = libpq's default
    interval_s: int = 60  # how often reference data is pulled; pushes follow each approval
    privacy: bool = False  # healthcare: narratives and phone numbers stay on this laptop


@dataclass
class DemoSettings:
    ring_ms: int = 1500  # how long the demo line rings before it answers
    call_s: int = 30  # how long the demo client talks when it calls you before it hangs up (0 = until you do)


@dataclass
class Settings:
    account: AccountSettings = field(default_factory=AccountSettings)
    sip: SipSettings = field(default_factory=SipSettings)
    audio: AudioSettings = field(default_factory=AudioSettings)
    billing: BillingSettings = field(default_factory=BillingSettings)
    recording: RecordingSettings = field(default_factory=RecordingSettings)
    demo: DemoSettings = field(default_factory=DemoSettings)
    central: CentralSettings = field(default_factory=CentralSettings)

    @property
    def timekeeper(self) -> str:
        if self.billing.timekeeper:
            return self.billing.timekeeper
        if self.account.user:
            return self.account.user
        try:
            return os.getlogin()
        except OSError:
            return os.environ.get("USER", "me")


_SECTIONS = {f.name: f.type for f in dataclasses.fields(Settings)}


def _coerce(section: str, key: str, value: Any, default: Any) -> Any:
    if isinstance(default, list):
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        raise SettingsError(f"[{section}] {key} must be a list of strings, not {value!r}")
    if isinstance(default, bool):
        if isinstance(value, bool):
            return value
    elif isinstance(default, int):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(default, str):
        if isinstance(value, str):
            return value
    raise SettingsError(f"[{section}] {key} must be {type(default).__name__}, not {type(value).__name__} ({value!r})")


def _check_port(label: str, value: str) -> str:
    """The host of ``host[:port]``, or a :class:`SettingsError` naming ``label`` if the port is not 1-65535."""
    try:
        host, port = split_host_port(value)
    except SettingsError:
        raise SettingsError(f"{label}: {value!r} is not host[:port]: the port must be a number") from None
    if port is not None and not 1 <= port <= 65535:
        raise SettingsError(f"{label}: {value!r} is not host[:port]: the port must be 1-65535")
    return host


def _check_server(label: str, value: str) -> None:
    """``host[:port]`` or a specific :class:`SettingsError` naming ``label``."""
    host = _check_port(label, value)
    if not host or any(c.isspace() or c in "/@;," for c in host):
        raise SettingsError(f"{label}: {value!r} is not host[:port]: {host!r} is not a host name or address")


def validate_nat(sip: SipSettings) -> None:
    """Keep-alive, STUN and TURN settings, each error naming the key."""
    # pjsip waits a random whole 80-100 % of the interval between keep-alives:
    # 1 s rounds down to 0 and would flood the server.
    if sip.keepalive_seconds != 0 and not 2 <= sip.keepalive_seconds <= 3600:
        raise SettingsError(f"[sip] keepalive_seconds must be 0 (off) or 2 to 3600, not {sip.keepalive_seconds}")
    for server in sip.stun_servers:
        _check_server("[sip] stun_servers", server)
    if sip.turn_server:
        _check_server("[sip] turn_server", sip.turn_server)
        if not sip.turn_user:
            raise SettingsError("[sip] turn_server needs turn_user (the password goes in the keyring)")


# Keys that moved: (old section, old key) -> (section, key, convert).
_MOVED: dict[tuple[str, str], tuple[str, str, Any]] = {
    ("account", "keepalive_s"): ("sip", "keepalive_seconds", lambda v: v),
    ("account", "ice"): ("sip", "ice", lambda v: v),
    ("sip", "stun_server"): ("sip", "stun_servers", lambda v: [v] if v else []),
    ("sip", "playback_device"): ("audio", "speaker", lambda v: v),
    ("sip", "capture_device"): ("audio", "microphone", lambda v: v),
}


# Whole-number settings and their sane ranges (inclusive); 2**31 - 1 is pjsip's ``int``.
_RANGES: dict[tuple[str, str], tuple[int, int, str]] = {
    ("sip", "local_port"): (0, 65535, "0 (any free port) to 65535"),
    ("sip", "log_level"): (0, 6, "0 to 6"),
    ("account", "register_expires_s"): (1, 86400, "1 to 86400 (seconds)"),
    ("account", "retry_interval_s"): (1, 86400, "1 to 86400 (seconds)"),
    ("recording", "retention_days"): (0, 36500, "0 (keep them) to 36500"),
    ("central", "interval_s"): (1, 86400, "1 to 86400 (seconds)"),
    ("demo", "ring_ms"): (0, 600000, "0 to 600000 (milliseconds)"),
    ("demo", "call_s"): (0, 86400, "0 to 86400 (seconds)"),
}


def _check_ranges(settings: Settings) -> None:
    for (section, key), (low, high, words) in _RANGES.items():
        value = getattr(getattr(settings, section), key)
        if not low <= value <= high:
            raise SettingsError(f"[{section}] {key} must be {words}, not {value}")


def validate(settings: Settings) -> None:
    acct = settings.account
    _check_ranges(settings)
    validate_nat(settings.sip)
    # Only the port: the host part of these has been free-form (the form checks it).
    if acct.server:
        _check_port("[account] server", acct.server)
    if acct.outbound_proxy:
        _check_port("[account] outbound_proxy", acct.outbound_proxy)
    for backup in acct.backups:
        _check_port("[account] backup_servers", backup)
    if acct.transport not in TRANSPORTS:
        raise SettingsError(f"[account] transport must be one of {', '.join(TRANSPORTS)}, not {acct.transport!r}")
    from softclock.billing import PolicyError

    try:
        settings.billing.policy()
    except PolicyError as exc:
        raise SettingsError(f"[billing] {exc}") from None
    if settings.recording.policy not in RECORDING_POLICIES:
        raise SettingsError(
            f"[recording] policy must be one of {', '.join(RECORDING_POLICIES)}, not {settings.recording.policy!r}"
        )
    if settings.central.sslmode not in SSL_MODES:
        raise SettingsError(
            f"[central] sslmode must be one of {', '.join(m for m in SSL_MODES if m)}, not {settings.central.sslmode!r}"
        )
    if settings.central.url:
        from softclock.sync.connect import parse_url

        parse_url(settings.central.url)
    if acct.srtp not in SRTP_MODES:
        raise SettingsError(f"[account] srtp must be one of {', '.join(SRTP_MODES)}, not {acct.srtp!r}")


_TOML_TYPES = {str: "a string", int: "an integer", float: "a float", bool: "a boolean", list: "an array"}


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The file's TOML, ``None`` when there is no file, or a :class:`SettingsError` naming it."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except IsADirectoryError:
        raise SettingsError(f"The settings file {path} is a directory; give the path of a TOML file.") from None
    except OSError as exc:
        raise SettingsError(f"Cannot read the settings file {path}: {exc.strerror or exc}.") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise SettingsError(
            f"The settings file {path} is not UTF-8 text (line {line}, byte {exc.start}); save it as UTF-8."
        ) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from None


def load(path: Path) -> Settings:
    """Read settings from ``path``; a missing file gives the defaults.

    Every problem is a :class:`SettingsError`: one sentence naming the file (and the key).
    """
    raw = _read_toml(path)
    if raw is None:
        return Settings()
    try:
        return _from_toml(path, raw)
    except SettingsError as exc:
        raise SettingsError(f"{path}: {exc}") from None


def _from_toml(path: Path, raw: dict[str, Any]) -> Settings:
    settings = Settings()
    for section, values in raw.items():
        if section in _SECTIONS and not isinstance(values, dict):
            kind = _TOML_TYPES.get(type(values), type(values).__name__)
            raise SettingsError(f"{section} must be a table (a [{section}] section), not {kind} ({values!r})")
    for section, values in raw.items():
        if section not in _SECTIONS or not isinstance(values, dict):
            log.warning("%s: ignoring unknown section [%s]", path, section)
            continue
        target = getattr(settings, section)
        known = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if (section, key) in _MOVED:
                new_section, new_key, convert = _MOVED[(section, key)]
                if new_key in raw.get(new_section, {}):
                    continue  # the new key, written by a newer version, wins
                log.info("%s: [%s] %s is now [%s] %s", path, section, key, new_section, new_key)
                target_new = getattr(settings, new_section)
                default = getattr(target_new, new_key)
                setattr(target_new, new_key, _coerce(new_section, new_key, convert(value), default))
                continue
            if key not in known:
                log.warning("%s: ignoring unknown key [%s] %s", path, section, key)
                continue
            setattr(target, key, _coerce(section, key, value, getattr(target, key)))
    validate(settings)
    return settings


def save(settings: Settings, path: Path) -> None:
    """Write settings atomically (mode 0600: it names the account)."""
    validate(settings)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SettingsError(f"Cannot write the settings file {path}: {exc.strerror or exc}.") from None
    data = {name: dataclasses.asdict(getattr(settings, name)) for name in _SECTIONS}
    tmp = path.with_suffix(".tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as fh:
            tomli_w.dump(data, fh)
        os.replace(tmp, path)
    except OSError as exc:
        raise SettingsError(f"Cannot write the settings file {path}: {exc.strerror or exc}.") from None


def validate_account(account: AccountSettings, password: str) -> str:
    """The first problem with the form, as a sentence, or ``""``."""
    if not account.server:
        return "Enter the SIP server (host name or address, optionally :port)."
    try:
        host, _ = split_host_port(account.server)
        if account.outbound_proxy:
            split_host_port(account.outbound_proxy)
        for backup in account.backups:
            split_host_port(backup)
    except SettingsError as exc:
        return str(exc)
    if not host or " " in host:
        return f"{account.server!r} is not a valid server name."
    try:  # what saving would refuse
        _check_port("The server", account.server)
        if account.outbound_proxy:
            _check_port("The outbound proxy", account.outbound_proxy)
        for backup in account.backups:
            _check_port("The backup server", backup)
    except SettingsError as exc:
        return str(exc)
    if not account.user:
        return "Enter the username of your phone account."
    if not password:
        return "Enter the password of your phone account."
    return ""
