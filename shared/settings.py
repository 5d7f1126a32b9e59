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


def load(cls: type[T], environ: Mapping[str, str] | None = None) -> T:
    """`cls` built from the environment; every missing or invalid setting named at once."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    faults: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        spec: Setting | None = field.metadata.get(_SETTING)
        if spec is None:
            continue
        if spec.from_environment is not None:
            try:
                values[field.name] = spec.from_environment(env)
            except (ValueError, TypeError) as error:
                faults.append(f"{spec.variable}: {error}")
            continue
        text = (env.get(spec.variable) or "").strip()
        if not text:
            if spec.default is None:
                faults.append(f"{spec.variable} is not set")
                continue
            text = spec.default
        try:
            value = spec.parse(text)
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            faults.append(f"{spec.variable}={text!r} is invalid: {error}")
            continue
        if spec.rule is not None and not spec.rule(value):
            faults.append(f"{spec.variable}={text!r} is invalid: it must be {spec.must}")
            continue
        values[field.name] = value
    if faults:
        raise SettingError(f"{cls.__name__}: " + "; ".join(faults))
    return cls(**values)


@functools.cache
def settings_of(cls: type[T]) -> T:
    """`cls` read from this process's environment once: every reader in the process (a service's
    provider, its event store's projector, its timers) shares the one reading."""
    return load(cls)


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
