"""newsmon.toml: loading and validation.

Every error names the file, the line and the key, because the person reading it is editing that
file. Relative paths (the SQLite file, the outbox) are resolved against the config file's folder,
so a Prefect worker started elsewhere finds the same data.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from extractors.records import FetchLimits
from extractors.relevance import Query, QuerySyntaxError

DEFAULT_CONFIG = "newsmon.toml"
CONFIG_ENV = "NEWSMON_CONFIG"
DATABASE_URL_ENV = "NEWSMON_DATABASE_URL"


class ConfigError(Exception):
    """A config file that cannot be used; str() is the one-line reason shown to the user."""

    def __init__(self, path: Path, line: int | None, key: str | None, reason: str) -> None:
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {key}: {reason}" if key else f"{where}: {reason}")
        self.path, self.line, self.key, self.reason = path, line, key, reason


def _redact(url: str) -> str:
    """An Apprise URL without its secrets (tokens sit in the user, password and path)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme}://…" if rest else url


def _email_address(value: str) -> str:
    # Deliberately loose: the SMTP server is the judge; this catches a missing or doubled "@".
    if not re.fullmatch(r"[^@\s]+@[^@\s]+", value):
        raise ValueError(f"{value!r} is not an email address")
    return value


class _Section(BaseModel):
    # Unknown keys are allowed ("more are fine") so a newer config still loads in an older newsmon.
    model_config = ConfigDict(extra="allow", frozen=True)


class StorageSettings(_Section):
    url: str = "sqlite:///data/newsmon.db"


class FetchSettings(_Section):
    user_agent: str = "newsmon/0.1 (+https://example.org/newsmon)"
    timeout: float = Field(20.0, gt=0)
    max_bytes: int = Field(5_000_000, gt=0)
    allow_private_hosts: list[str] = []

    def limits(self) -> FetchLimits:
        return FetchLimits(
            user_agent=self.user_agent,
            timeout=self.timeout,
            max_bytes=self.max_bytes,
            allow_private_hosts=tuple(self.allow_private_hosts),
        )


class EmailSettings(_Section):
    host: str = ""  # empty: digests go to the outbox folder
    port: int = Field(25, gt=0, lt=65536)
    security: Literal["none", "starttls", "ssl"] = "none"
    username: str = ""
    password_env: str = "NEWSMON_SMTP_PASSWORD"
    sender: str = "newsmon@localhost"
    outbox: str = "outbox"
    # Instead of host/port/username/password: a prefect-email EmailServerCredentials block.
    credentials_block: str = ""
    # Instead of password_env: the name of a Prefect Secret block holding the password.
    password_secret: str = ""
    retries: int = Field(3, ge=0)  # further attempts after a 4xx reply or a network error
    retry_backoff: float = Field(2.0, ge=0)  # seconds before the first retry, doubled each time

    @field_validator("sender")
    @classmethod
    def _sender_is_address(cls, value: str) -> str:
        return _email_address(value)

    @property
    def configured(self) -> bool:
        """Whether digests go out by SMTP (else to the outbox folder)."""
        return bool(self.host or self.credentials_block)


# The digest schedule when the watch does not give one.
DEFAULT_DIGEST_CRON = {"daily": "0 7 * * *", "weekly": "0 7 * * 1", "immediate": "0 7 * * *"}


class WatchSettings(_Section):
    name: str
    query: str
    title: str = ""  # shown in subjects; default: the name, humanised
    feeds: list[str] = []
    recipients: list[str] = []
    notify: list[str] = []  # Apprise URLs (tgram://…, slack://…) that get a short story list
    # immediate: a digest after every poll that found something new, besides the schedule.
    frequency: Literal["daily", "weekly", "immediate"] = "daily"
    send_empty: bool = False  # a short "nothing new" mail when there is nothing new
    poll: str = "*/15 * * * *"
    digest: str = ""  # cron; default from `frequency`
    timezone: str = "UTC"

    @model_validator(mode="before")
    @classmethod
    def _digest_from_frequency(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("digest"):
            frequency = data.get("frequency", "daily")
            data = {**data, "digest": DEFAULT_DIGEST_CRON.get(frequency, "0 7 * * *")}
        return data

    @field_validator("notify")
    @classmethod
    def _notify_are_apprise_urls(cls, value: list[str]) -> list[str]:
        import apprise

        for url in value:
            if not apprise.Apprise().add(url):
                raise ValueError(f"{_redact(url)!r} is not an Apprise URL newsmon can use")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_slug(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z0-9][a-z0-9_-]*", value):
            raise ValueError(f"{value!r}: use lower-case letters, digits, '-' and '_'")
        return value

    @field_validator("query")
    @classmethod
    def _query_parses(cls, value: str) -> str:
        try:
            Query.parse(value)
        except QuerySyntaxError as exc:
            raise ValueError(f"query does not parse: {exc}") from exc
        return value

    @field_validator("feeds")
    @classmethod
    def _feeds_are_http(cls, value: list[str]) -> list[str]:
        for url in value:
            if not re.match(r"https?://[^/\s]+", url):
                raise ValueError(f"{url!r} is not an http(s) URL")
        return value

    @field_validator("recipients")
    @classmethod
    def _recipients_are_addresses(cls, value: list[str]) -> list[str]:
        return [_email_address(address) for address in value]

    @field_validator("poll", "digest")
    @classmethod
    def _is_cron(cls, value: str) -> str:
        from prefect.client.schemas.schedules import CronSchedule

        try:
            CronSchedule(cron=value)
        except ValueError as exc:
            raise ValueError(f"{value!r} is not a cron expression") from exc
        return value

    @field_validator("timezone")
    @classmethod
    def _is_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @property
    def parsed_query(self) -> Query:
        return Query.parse(self.query)


class Settings(_Section):
    storage: StorageSettings = StorageSettings()
    fetch: FetchSettings = FetchSettings()
    email: EmailSettings = EmailSettings()
    watch: list[WatchSettings] = Field(default_factory=list)
    path: Path = Path(DEFAULT_CONFIG)

    @property
    def database_url(self) -> str:
        return os.environ.get(DATABASE_URL_ENV) or self.storage.url

    @property
    def outbox(self) -> Path:
        return self.resolve(self.email.outbox)

    def resolve(self, path: str) -> Path:
        return (self.path.parent / path).resolve()

    def get_watch(self, name: str) -> WatchSettings:
        for watch in self.watch:
            if watch.name == name:
                return watch
        known = ", ".join(w.name for w in self.watch) or "none"
        raise ConfigError(self.path, None, "watch", f"no watch named {name!r} (known: {known})")

    def watches(self, name: str | None = None) -> list[WatchSettings]:
        return [self.get_watch(name)] if name else list(self.watch)


def config_path(given: str | Path | None = None) -> Path:
    return Path(given or os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG)


def load_settings(path: str | Path | None = None) -> Settings:
    """Read and validate newsmon.toml; raise ConfigError naming file, line and key."""
    path = config_path(path)
    try:
        source = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(path, None, None, "config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, None, f"cannot read config: {exc}") from None
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"at line (\d+)", str(exc))
        line = int(match.group(1)) if match else None
        raise ConfigError(path, line, None, f"not valid TOML: {exc}") from None
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        loc = tuple(error["loc"])
        key = _dotted(loc)
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(path, _line_of(source, loc), key, message) from None
    _check_unique_watch_names(settings, source, path)
    _resolve_sqlite_path(settings, path)
    return settings.model_copy(update={"path": path.resolve()})


def _check_unique_watch_names(settings: Settings, source: str, path: Path) -> None:
    seen: set[str] = set()
    for index, watch in enumerate(settings.watch):
        if watch.name in seen:
            loc = ("watch", index, "name")
            raise ConfigError(
                path, _line_of(source, loc), _dotted(loc), f"duplicate watch {watch.name!r}"
            )
        seen.add(watch.name)


def _resolve_sqlite_path(settings: Settings, path: Path) -> None:
    url = settings.storage.url
    prefix = "sqlite:///"
    if url.startswith(prefix) and not url.startswith(prefix + "/") and ":memory:" not in url:
        absolute = (path.resolve().parent / url.removeprefix(prefix)).as_posix()
        object.__setattr__(settings.storage, "url", prefix + absolute)


def _dotted(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            parts[-1] += f"[{part}]"
        else:
            parts.append(str(part))
    return ".".join(parts)


def _line_of(source: str, loc: tuple[Any, ...]) -> int | None:
    """The line where the key at `loc` (e.g. ("watch", 1, "query")) is written, best effort.

    tomllib keeps no positions, so walk the table headers: `[section]` or the n-th `[[watch]]`,
    then the first `key =` line inside it. Falls back to the table header's line.
    """
    if not loc:
        return None
    table, index = str(loc[0]), 0
    rest = list(loc[1:])
    if rest and isinstance(rest[0], int):
        index = rest.pop(0)
    key = str(rest[0]) if rest else None
    header_re = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]\]?")
    key_re = re.compile(rf"^\s*{re.escape(key)}\s*=") if key else None
    seen, header_line = -1, None
    for number, line in enumerate(source.splitlines(), start=1):
        header = header_re.match(line)
        if header:
            if header_line is not None and seen == index:
                break  # left the table we were in without finding the key
            if header.group(1) == table:
                seen += 1
                if seen == index:
                    header_line = number
            continue
        if header_line is not None and seen == index and key_re and key_re.match(line):
            return number
    return header_line
