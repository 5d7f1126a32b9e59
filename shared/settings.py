"""Typed settings: each service names what it reads from the environment in a frozen dataclass,
one field per setting with its variable, its default, how it is parsed and the rule it must
keep. `ServiceSettings` reads them once, in its `setup()`, so a service with a missing or
invalid setting fails as it starts, naming every variable at fault, instead of at import.

    @dataclass(frozen=True)
    class ReferralSettings:
        caseload_cap: int = setting("PEERLINK_CASELOAD_CAP", "25", int, positive)

    class ReferralsService:
        config = ServiceSettings(ReferralSettings)
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable, Mapping
from datetime import date
from typing import Any, TypeVar
from urllib.parse import urlsplit

from nameko.extensions import DependencyProvider
from nameko.timer import Timer

T = TypeVar("T")

_SETTING = "peerlink_setting"


class SettingError(RuntimeError):
    """A setting missing or invalid: the process does not start, and the message names it."""


@dataclasses.dataclass(frozen=True)
class Setting:
    variable: str
    default: str | None  # None: the variable must be set
    parse: Callable[[str], Any]
    rule: Callable[[Any], bool] | None = None
    must: str = ""  # the rule, in words, for the error message
    # read from the whole environment instead of one variable (several variables make one value)
    from_environment: Callable[[Mapping[str, str]], Any] | None = None


def settings_group(variables: str, from_environment: Callable[[Mapping[str, str]], Any]) -> Any:
    """A dataclass field built from several `variables` at once by `from_environment(env)`,
    which raises ValueError naming the one at fault."""
    spec = Setting(variables, None, str, from_environment=from_environment)
    return dataclasses.field(metadata={_SETTING: spec})


def setting(
    variable: str,
    default: str | None,
    parse: Callable[[str], Any] = str,
    rule: Callable[[Any], bool] | None = None,
    must: str = "",
) -> Any:
    """A dataclass field read from `variable` (the default's text when unset or blank)."""
    return dataclasses.field(metadata={_SETTING: Setting(variable, default, parse, rule, must)})


# parsers and rules shared by the services' settings


def iso_date(text: str) -> date:
    return date.fromisoformat(text)


def positive(value: float) -> bool:
    return value > 0


def not_negative(value: float) -> bool:
    return value >= 0


def http_url(text: str) -> str:
    """An http or https address, without a slash at its end."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("it must be an http:// or https:// address")
    return text.rstrip("/")


def optional_http_url(text: str) -> str | None:
    """An http or https address, or None when blank (a setting that may be left unset)."""
    return http_url(text) if text else None


def host_and_port(text: str) -> str:
    """An address to listen on, `host:port`, as it is given."""
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError("it must be host:port, with a port from 1 to 65535")
    return text


def _read(spec: Setting, env: Mapping[str, str]) -> tuple[Any, str | None]:
    """One setting's value, or what is wrong with it (naming its variable)."""
    if spec.from_environment is not None:
        try:
            return spec.from_environment(env), None
        except (ValueError, TypeError) as error:
            return None, f"{spec.variable}: {error}"
    text = (env.get(spec.variable) or "").strip()
    if not text:
        if spec.default is None:
            return None, f"{spec.variable} is not set"
        text = spec.default
    try:
        value = spec.parse(text)
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        return None, f"{spec.variable}={text!r} is invalid: {error}"
    if spec.rule is not None and not spec.rule(value):
        return None, f"{spec.variable}={text!r} is invalid: it must be {spec.must}"
    return value, None


def load(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """`cls` built from the environment; every missing or invalid setting named at once."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    faults: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec: Setting | None = field.metadata.get(_SETTING)
        if spec is None:
            continue
        value, fault = _read(spec, env)
        if fault is not None:
            faults.append(fault)
        else:
            values[field.name] = value
    if faults:
        raise SettingError(f"{cls.__name__}: " + "; ".join(faults))
    return cls(**values)


def load_one(cls: type, name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The setting `name` of `cls` on its own, for a tool that needs one of a service's settings
    and not the rest (the web app's assets, say, without the addresses of the node's services)."""
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    spec = next(field for field in fields if field.name == name).metadata[_SETTING]
    value, fault = _read(spec, os.environ if environ is None else environ)
    if fault is not None:
        raise SettingError(f"{cls.__name__}: {fault}")
    return value


@functools.cache
def settings_of(cls: type[T]) -> T:
    """`cls` read from this process's environment once: every reader in the process (a service's
    provider, its event store's projector, its timers) shares the one reading."""
    return load(cls)


def read_all(*classes: type) -> None:
    """Reads each of `classes` once (as `settings_of`), naming every setting at fault in all of
    them at once: for a process that needs several services' settings, before it starts."""
    faults: list[str] = []
    for cls in classes:
        try:
            settings_of(cls)
        except SettingError as error:
            faults.append(str(error))
    if faults:
        raise SettingError("; ".join(faults))


class ServiceSettings(DependencyProvider):
    """Hands each worker the service's typed settings, read once when the service sets up."""

    def __init__(self, cls: type):
        self.cls = cls

    def setup(self):
        self.settings = settings_of(self.cls)

    def get_dependency(self, worker_ctx):
        return self.settings


class SettingTimer(Timer):
    """nameko's timer with its interval a setting, taken as the service sets up instead of when
    the class is defined: `@setting_timer(SafeguardingSettings, lambda s: s.tick_seconds)`."""

    def __init__(self, settings_class: type, interval_of: Callable[[Any], float], **kwargs):
        self.settings_class = settings_class
        self.interval_of = interval_of
        super().__init__(interval=None, **kwargs)

    def setup(self):
        self.interval = self.interval_of(settings_of(self.settings_class))
        super().setup()


setting_timer = SettingTimer.decorator
