"""Settings: one loader, one documented precedence.

Precedence, highest first: CLI flags (passed as ``overrides``) > ``SENTINEL_*`` environment
variables (nested with ``__``, e.g. ``SENTINEL_SCORING__WEIGHTS__LOSS_CHASE``) > a TOML file
(``--config``, ``$SENTINEL_CONFIG`` or ``./sentinel.toml``) > defaults.

Secrets never live in Settings or in a file: the Snowflake password, the private-key
passphrase and the Anthropic key are read from the environment by :func:`secret` when needed.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from dk_sentinel.errors import ConfigError
from dk_sentinel.vocabulary import (  # re-exported: the settings pick from them
    COMPONENTS,
    REGISTRY,
    Component,
    OutcomeType,
)

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,254}$")

#: Environment variables that hold secrets (never read from a file, never shown).
SECRET_ENV = {
    "snowflake_password": "SNOWFLAKE_PASSWORD",
    "snowflake_private_key_passphrase": "SNOWFLAKE_PRIVATE_KEY_PASSPHRASE",
    "snowflake_private_key": "SNOWFLAKE_PRIVATE_KEY",
    "snowflake_oauth_token": "SNOWFLAKE_OAUTH_TOKEN",
    "snowflake_oauth_client_secret": "SNOWFLAKE_OAUTH_CLIENT_SECRET",
    "anthropic_api_key": "ANTHROPIC_API_KEY",
    "webhook_secret": "SENTINEL_WEBHOOK_SECRET",
}
_SECRET_KEYS = {
    "password", "private_key_passphrase", "passphrase", "api_key", "anthropic_api_key",
    "webhook_secret", "secret", "private_key", "oauth_token", "token",
}  # fmt: skip


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def _identifier(value: str) -> str:
    if not IDENTIFIER.match(value):
        raise ValueError(f"{value!r} is not a plain SQL identifier (letters, digits, underscore)")
    return value


class DuckDBSettings(_Section):
    """The embedded DuckDB warehouse (the default)."""

    path: Path = Path("sentinel.duckdb")
    memory_limit: str = "1.8GB"  # + ~130 MB of Python and dbt: a run stays under 2 GB
    threads: int = Field(default=2, ge=1, le=256)


class SnowflakeSettings(_Section):
    """Snowflake in production. Secrets come from SNOWFLAKE_PASSWORD / _PRIVATE_KEY_PASSPHRASE."""

    account: str = ""
    user: str = ""
    role: str = ""
    warehouse: str = "COMPUTE_WH"
    database: str = "RG_ANALYTICS"
    authenticator: Literal[
        "password", "key_pair", "oauth", "oauth_client_credentials", "workload_identity",
        "externalbrowser",
    ] = Field(
        default="password",
        description="key_pair, oauth, oauth_client_credentials or workload_identity for cron "
        "and servers; externalbrowser (SSO) needs a person at a browser the first time, then "
        "uses the connector's token cache",
    )  # fmt: skip
    private_key_file: Path | None = Field(
        default=None, description="key_pair: the PEM file (or the key in $SNOWFLAKE_PRIVATE_KEY)"
    )
    oauth_token_file: Path | None = Field(
        default=None,
        description="oauth: a file your token refresher keeps current (or $SNOWFLAKE_OAUTH_TOKEN)",
    )
    oauth_token_url: str = Field(
        default="",
        description="oauth_client_credentials: your identity provider's token endpoint (the "
        "client secret in $SNOWFLAKE_OAUTH_CLIENT_SECRET)",
    )
    oauth_client_id: str = Field(default="", description="oauth_client_credentials: the client")
    oauth_scope: str = Field(
        default="", description="oauth_client_credentials: the scope asked for (e.g. a role)"
    )
    workload_identity_provider: Literal["", "AWS", "AZURE", "GCP"] = Field(
        default="",
        description="workload_identity: the platform whose identity the host signs in with",
    )
    connection_name: str = Field(
        default="",
        description="A connection of the Snowflake connections.toml; its account, user and "
        "sign-in replace the ones here",
    )
    query_tag: str = Field(
        default="dk-sentinel", description="QUERY_TAG of every session (the command is appended)"
    )
    login_timeout_seconds: int = Field(default=30, ge=1)
    statement_timeout_seconds: int = Field(
        default=7200,
        ge=60,
        description="a statement running longer is cancelled (STATEMENT_TIMEOUT_IN_SECONDS, "
        "pinned in every session)",
    )
    host: str = Field(default="", description="Only for a proxy / PrivateLink / emulator")
    port: int | None = None
    protocol: Literal["https", "http"] = "https"
    emulator: bool = Field(
        default=False,
        description="Only for tests against fakesnow: skip dbt unit tests, transient tmp tables",
    )

    @field_validator("warehouse", "database")
    @classmethod
    def _check_identifier(cls, value: str) -> str:
        return _identifier(value)


class SchemaNames(_Section):
    """Schema names: raw contract tables, operational tables, dbt output."""

    raw: str = "raw"
    ops: str = "ops"
    analytics: str = "analytics"

    @field_validator("raw", "ops", "analytics")
    @classmethod
    def _check_identifier(cls, value: str) -> str:
        return _identifier(value)


class WarehouseSettings(_Section):
    """Which warehouse, and how long to wait for a busy one."""

    backend: Literal["duckdb", "snowflake"] = "duckdb"
    busy_timeout_seconds: float = Field(default=30.0, ge=0)
    lease_seconds: float = Field(
        default=120.0,
        ge=1,
        description="A job's lease in the warehouse (score-batch, deliver, ingest): renewed "
        "every third of this while the job runs; a crashed holder's is taken over after it",
    )
    schemas: SchemaNames = SchemaNames()
    duckdb: DuckDBSettings = DuckDBSettings()
    snowflake: SnowflakeSettings = SnowflakeSettings()


def _default_weights() -> dict[Component, float]:
    return {c.name: c.default_weight for c in REGISTRY}


def _complete_weights(weights: dict[Component, float]) -> dict[Component, float]:
    """The weights given, the registry's default for any not given; together they sum to 1."""
    complete = {**_default_weights(), **weights}
    total = sum(complete.values())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"the weights must sum to 1 (they sum to {total:.6g})")
    return {c: complete[c] for c in COMPONENTS}


#: Relative importance of each component (>= 0, sum to 1); defaults from the registry
#: (:data:`dk_sentinel.vocabulary.REGISTRY`).
Weights = Annotated[
    dict[Component, Annotated[float, Field(ge=0)]], AfterValidator(_complete_weights)
]


class Thresholds(_Section):
    """Category cut-offs on the composite; a score equal to a cut-off is in the higher category."""

    critical: Decimal = Decimal("0.80")
    high: Decimal = Decimal("0.60")
    medium: Decimal = Decimal("0.40")

    @model_validator(mode="after")
    def _strictly_decreasing(self) -> Thresholds:
        if not (1 > self.critical > self.high > self.medium > 0):
            raise ValueError(
                "thresholds must be strictly decreasing inside (0, 1): "
                f"critical ({self.critical}) > high ({self.high}) > medium ({self.medium})"
            )
        return self


class HistorySettings(_Section):
    """How long score history is kept (applied at the end of every successful run)."""

    keep_every_run_days: int = Field(
        default=7, ge=1, description="Every run's scores are kept this many days"
    )
    max_age_days: int = Field(
        default=400, ge=31, description="After that, one run a day until this age, then none"
    )

    @model_validator(mode="after")
    def _ordered(self) -> HistorySettings:
        if self.max_age_days <= self.keep_every_run_days:
            raise ValueError("max_age_days must be more than keep_every_run_days")
        return self


class ScoringSettings(_Section):
    """Scoring windows and the tunable parameters of each component (see the dbt YAML)."""

    weights: Weights = Field(default_factory=_default_weights)
    history: HistorySettings = HistorySettings()
    thresholds: Thresholds = Thresholds()
    recent_window_days: int = Field(default=14, ge=1, le=90)
    baseline_window_days: int = Field(default=76, ge=7, le=365)
    chase_lookback_days: int = Field(default=28, ge=1, le=90)
    chase_window_minutes: int = Field(default=60, ge=1, le=1440)
    chase_stake_ratio: float = Field(default=1.5, gt=1)
    min_baseline_bets: int = Field(default=5, ge=1)
    min_bets: int = Field(default=10, ge=1)
    prior_strength: float = Field(default=10.0, gt=0)
    prior_strength_days: float = Field(default=4.0, gt=0)
    chase_margin: float = Field(default=0.05, ge=0)
    chase_scale: float = Field(default=0.20, gt=0)
    session_chase_margin: float = Field(default=0.25, ge=0)
    session_chase_scale: float = Field(default=0.5, gt=0)
    elevated_day_log_ratio: float = Field(default=0.693, gt=0)
    shock_day_log_factor: float = Field(default=0.405, gt=0)
    driver_chase_share: float = Field(default=0.667, gt=0, le=1)
    stake_level_scale: float = Field(default=0.47, gt=0)
    stake_trend_margin: float = Field(default=0.30, ge=0)
    stake_trend_scale: float = Field(default=0.25, gt=0)
    stake_trend_prior_sd: float = Field(default=0.47, gt=0)
    drift_scale: float = Field(default=0.5, gt=0)
    late_night_scale: float = Field(default=0.25, gt=0)
    intensity_margin: float = Field(default=0.41, ge=0)
    intensity_scale: float = Field(default=0.6, gt=0)
    late_night_start_hour: int = Field(default=0, ge=0, le=23)
    late_night_end_hour: int = Field(default=6, ge=1, le=24)
    longshot_odds: float = Field(default=5.0, gt=1)
    gamalyze_staleness_days: int = Field(default=180, ge=1)
    money_past_weight: float = Field(
        default=0.25,
        ge=0,
        le=1,
        description="money_behaviour: a marker in the baseline window weighs this much of a "
        "recent one",
    )
    money_points_per_deposit_after_loss: float = Field(
        default=0.33,
        gt=0,
        description="money_behaviour: evidence points per deposit after a loss beyond the "
        "expected (and one tolerated); 1 point reads 0.63",
    )
    dbt_threads: int | None = Field(
        default=None,
        ge=1,
        le=16,
        description="models dbt builds at once; default by backend: 1 on DuckDB (each query "
        "already uses every core: two at once on 2 cores ran a full refresh 1.15x slower), "
        "4 on Snowflake (the warehouse runs them)",
    )

    def models_at_once(self, backend: str) -> int:
        """How many models dbt builds at once on ``backend`` (``dbt_threads``, or its default)."""
        if self.dbt_threads is not None:
            return self.dbt_threads
        return 1 if backend == "duckdb" else 4

    @model_validator(mode="after")
    def _windows(self) -> ScoringSettings:
        if self.late_night_end_hour <= self.late_night_start_hour:
            raise ValueError("late_night_end_hour must be after late_night_start_hour")
        return self


class QueueSettings(_Section):
    """Review deadlines from when a player first reached a category, and analyst capacity."""

    sla_hours_critical: float = Field(default=2, gt=0)
    sla_hours_high: float = Field(default=24, gt=0)
    sla_hours_medium: float = Field(default=72, gt=0)
    daily_capacity: int = Field(default=50, ge=1, description="Players analysts review a day")
    claim_minutes: float = Field(
        default=30,
        gt=0,
        le=24 * 60,
        description="How long `queue --claim` keeps a player for one analyst",
    )
    high_plus_max_share: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="HIGH and CRITICAL for at most this share of the players scored, "
        "the highest first (the rest above the HIGH cut-off read MEDIUM); 1.0: no cap",
    )


class ProbabilityThresholds(Thresholds):
    """Category cut-offs on the calibrated probability (used when category_basis = probability)."""

    critical: Decimal = Decimal("0.50")
    high: Decimal = Decimal("0.25")
    medium: Decimal = Decimal("0.10")


class OutcomesSettings(_Section):
    """What counts as a harmful outcome, and how backtests and calibration use outcomes."""

    harmful_event_types: list[OutcomeType] = Field(
        default=["self_exclusion", "rg_account_closure", "cooling_off", "limit_breach"],
        min_length=1,
    )
    horizon_days: int = Field(default=30, ge=1, le=365)
    min_positives: int = Field(default=30, ge=5, description="Fewer: calibrate refuses to fit")
    replay_every_days: int = Field(
        default=30, ge=1, le=365, description="calibrate's replay step when history is short"
    )
    max_replays: int = Field(default=24, ge=1, le=200)
    regularisation: list[float] = Field(
        default=[0.01, 0.1, 1.0],
        min_length=1,
        description="Candidate L2 strengths C (inverse), chosen by inner grouped CV",
    )
    category_basis: Literal["composite", "probability"] = "composite"
    probability_thresholds: ProbabilityThresholds = ProbabilityThresholds()


class DeliverySettings(_Section):
    """The platform webhook that receives interventions (secret: $SENTINEL_WEBHOOK_SECRET)."""

    webhook_url: str | None = None
    timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    backoff_base_seconds: float = Field(default=30.0, gt=0)
    backoff_max_seconds: float = Field(default=3600.0, gt=0)
    batch_size: int = Field(default=100, ge=1, le=10_000)


class JurisdictionSettings(_Section):
    """Which trigger pack applies to which state (the suffix of the player id)."""

    states: dict[str, str] = Field(
        default_factory=lambda: {"NJ": "nj"},
        description="State -> pack (shipped: nj, ukgc, base; or your own in packs_dir)",
    )
    default_pack: str = Field(default="base", description="The pack of every other state")
    packs_dir: Path | None = Field(
        default=None, description="A folder of your own NAME.toml packs (they win over shipped)"
    )


class ApiSettings(_Section):
    """``sentinel serve``: limits, CORS, and how long a request waits for the warehouse."""

    rate_limit: str = Field(default="100/minute", description="Per API key, moving window")
    cors_origins: list[str] = Field(default_factory=list)
    busy_timeout_seconds: float = Field(
        default=2.0, ge=0, description="A request waits this long for the warehouse, then 503"
    )
    access_log: Literal["plain", "json"] = "plain"
    session_idle_minutes: float = Field(
        default=30, gt=0, description="A console session ends after this long without use"
    )
    session_hours: float = Field(
        default=12, gt=0, description="A console session ends this long after sign-in"
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        description="A request body larger than this is refused with 413 before it is read",
    )
    pool_size: int = Field(default=4, ge=1, le=64, description="Snowflake connections at most")
    key_cache_seconds: float = Field(
        default=30.0,
        ge=0,
        description="A valid API key is remembered this long (a revoked key keeps working up "
        "to this long, twice that while a scoring run holds the warehouse; 0: look every key "
        "up): requests need no warehouse query to authenticate, and an idle Snowflake "
        "warehouse can suspend",
    )
    shutdown_timeout_seconds: float = Field(
        default=30.0, ge=0, description="On stop, wait this long for a scheduled batch"
    )
    served_refresh_seconds: float | None = Field(
        default=None,
        ge=0,
        description="The risk lookup is answered from the latest run held in memory, polled "
        "this often while lookups come (a run published by cron, or an intervention recorded "
        "elsewhere, shows within it; 0: read the warehouse on every request). Default 2 on "
        "DuckDB, 30 on Snowflake, where each poll is a query",
    )

    def refresh_seconds(self, backend: str) -> float:
        """The poll interval of the served assessments on ``backend`` (0: not held)."""
        if self.served_refresh_seconds is not None:
            return self.served_refresh_seconds
        return 30.0 if backend == "snowflake" else 2.0


class AISettings(_Section):
    """The AI explainer (Anthropic). The key comes from ANTHROPIC_API_KEY only."""

    enabled: bool = True
    model: str = "claude-sonnet-5-5"
    max_tokens: int = Field(default=800, ge=64, le=8192)
    timeout_seconds: float = Field(
        default=20.0, gt=0, description="Deadline of the whole call, retries included"
    )
    max_retries: int = Field(default=2, ge=0, le=10)
    rg_help_url: str = "https://www.draftkings.com/responsible-gaming"
    helpline: str = "1-800-GAMBLER"


class IngestSettings(_Section):
    """How strict `sentinel ingest` is beyond the data contract."""

    max_future_minutes: int = Field(
        default=60,
        ge=0,
        description="A timestamp more than this many minutes after the load is rejected "
        "(clock skew is tolerated; a bet placed in 2030 is not)",
    )


class ActionSettings(_Section):
    """The action matrix: what the rules explainer recommends for each category."""

    critical: str = "Analyst review within 2 hours and offer a cooling-off period"
    high: str = "Analyst review within 24 hours and send a supportive nudge"
    medium: str = "Add to the watchlist and send an automated nudge"
    low: str = "Monitor; no action needed"


class Settings(BaseSettings):
    """Every setting of DK Sentinel; see ``sentinel.toml.example`` for each with its default."""

    model_config = SettingsConfigDict(
        env_prefix="SENTINEL_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_assignment=True,
    )

    analyst: str | None = Field(default=None, description="Default analyst id for interventions")
    warehouse: WarehouseSettings = WarehouseSettings()
    ingest: IngestSettings = IngestSettings()
    scoring: ScoringSettings = ScoringSettings()
    queue: QueueSettings = QueueSettings()
    outcomes: OutcomesSettings = OutcomesSettings()
    delivery: DeliverySettings = DeliverySettings()
    api: ApiSettings = ApiSettings()
    jurisdictions: JurisdictionSettings = JurisdictionSettings()
    ai: AISettings = AISettings()
    actions: ActionSettings = ActionSettings()
    _sources: dict[str, Any] = PrivateAttr(default_factory=dict)

    #: The TOML file this class reads last (None: none); :func:`load_settings` sets it on a
    #: subclass per load, so no module-level registry holds file contents.
    toml_file: ClassVar[Path | None] = None

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """CLI overrides (init), then the environment, then the TOML file.

        The file is read by pydantic-settings' own TOML source.
        """
        if cls.toml_file is None:
            return init_settings, env_settings
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=cls.toml_file),
        )


# Env variables of ours that are not settings (read elsewhere). Any other SENTINEL_* variable
# must name a setting (a typo is an error, not silently ignored); an unrelated one is listed in
# $SENTINEL_IGNORE_ENV (comma-separated names) to be let through.
_NON_SETTING_ENV = {
    "SENTINEL_CONFIG", "SENTINEL_DEBUG", "SENTINEL_DB", "SENTINEL_SERVE_SETTINGS",
    "SENTINEL_WEBHOOK_SECRET", "SENTINEL_IGNORE_ENV", "SENTINEL_SNOWFLAKE_LIVE",
    "SENTINEL_TEST_ARTIFACTS",
}  # fmt: skip


def _unknown_env() -> ConfigError | None:
    """A SENTINEL_* variable that names no setting (with a "did you mean"), if any."""
    ignored = {n.strip() for n in os.environ.get("SENTINEL_IGNORE_ENV", "").split(",")}
    known = set(_all_keys())
    for name in sorted(os.environ):
        if not name.startswith("SENTINEL_") or name in _NON_SETTING_ENV or name in ignored:
            continue
        key = name.removeprefix("SENTINEL_").lower().replace("__", ".")
        if key in known:
            continue
        names = ["SENTINEL_" + k.upper().replace(".", "__") for k in known]
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        suffix = f" (did you mean {close[0]}?)" if close else ""
        return ConfigError(
            f"unknown setting in the environment: {name}{suffix}",
            "Fix or unset it; a variable that is not for sentinel goes in "
            f"SENTINEL_IGNORE_ENV (e.g. SENTINEL_IGNORE_ENV={name}).",
        )
    return None


def config_path(explicit: Path | None = None) -> Path | None:
    """Return the TOML file to read: ``--config``, then ``$SENTINEL_CONFIG``, then ./sentinel.toml.

    Args:
        explicit: The ``--config`` flag, if given (must exist).

    Returns:
        The path to read, or None when there is no file.

    Raises:
        ConfigError: When an explicitly named file does not exist.
    """
    named = explicit or (
        Path(os.environ["SENTINEL_CONFIG"]) if os.environ.get("SENTINEL_CONFIG") else None
    )
    if named is not None:
        if not named.is_file():
            raise ConfigError(
                f"config file {named} does not exist", "Check --config / $SENTINEL_CONFIG."
            )
        return named
    default = Path("sentinel.toml")
    return default if default.is_file() else None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read config file {path}: {exc}") from exc
    for key in flatten(data):
        if key.rsplit(".", 1)[-1].lower() in _SECRET_KEYS:
            raise ConfigError(
                f"{path} contains the secret '{key}'; secrets are never read from files",
                "Remove it and set SNOWFLAKE_PASSWORD, SNOWFLAKE_PRIVATE_KEY_PASSPHRASE or "
                "ANTHROPIC_API_KEY in the environment instead.",
            )
    return data


def flatten(data: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested mappings into dotted keys (``{"a": {"b": 1}}`` -> ``{"a.b": 1}``).

    Args:
        data: A nested mapping.
        prefix: Key prefix used by the recursion.

    Returns:
        A flat dict of dotted keys to leaf values.
    """
    flat: dict[str, Any] = {}
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(flatten(value, f"{dotted}."))
        else:
            flat[dotted] = value
    return flat


def _all_keys() -> list[str]:
    leaves = flatten(Settings.model_construct().model_dump())
    sections = {key.rsplit(".", i)[0] for key in leaves for i in range(1, key.count(".") + 1)}
    return [*leaves, *sorted(sections)]


def _env_keys() -> set[str]:
    keys = set()
    for name in os.environ:
        if name.startswith("SENTINEL_") and name not in _NON_SETTING_ENV:
            keys.add(name.removeprefix("SENTINEL_").lower().replace("__", "."))
    return keys


def _explain(exc: ValidationError) -> ConfigError:
    """Turn pydantic's errors into one ConfigError naming each key and what is allowed."""
    known = _all_keys()
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        if err["type"] == "extra_forbidden":
            close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
            suffix = f" (did you mean '{close[0]}'?)" if close else ""
            lines.append(f"unknown setting '{key}'{suffix}")
        else:
            msg = str(err["msg"]).removeprefix("Value error, ")
            lines.append(f"{key or 'settings'}: {msg}" if key else msg)
    return ConfigError("invalid configuration: " + "; ".join(lines))


def load_settings(
    config: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> Settings:
    """Load the settings with the documented precedence.

    Args:
        config: The ``--config`` file, if given.
        overrides: Values from CLI flags, as dotted keys (``{"warehouse.backend": "duckdb"}``).

    Returns:
        The validated settings.

    Raises:
        ConfigError: On an unreadable file, a secret in a file, an unknown key or a bad value.
    """
    unknown = _unknown_env()
    if unknown is not None:
        raise unknown
    path = config_path(config)
    data = _read_toml(path) if path else {}
    nested: dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        node = nested
        *parents, leaf = dotted.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    loader: type[Settings] = (
        type("SettingsFromFile", (Settings,), {"toml_file": path}) if path else Settings
    )
    try:
        settings = loader(**nested)
    except ValidationError as exc:
        raise _explain(exc) from None
    settings._sources = {
        "cli": set(flatten(nested)),
        "env": _env_keys(),
        "toml": set(flatten(data)),
        "file": str(path) if path else None,
    }
    return settings


def describe(settings: Settings) -> list[tuple[str, Any, str]]:
    """List every effective setting with its value and where it came from.

    Args:
        settings: Settings from :func:`load_settings`.

    Returns:
        ``(key, value, source)`` rows; source is cli, env, toml (with the file) or default.
        Secrets are reported as set / not set, never shown.
    """
    sources = settings._sources or {"cli": set(), "env": set(), "toml": set()}
    rows: list[tuple[str, Any, str]] = []
    for key, value in flatten(settings.model_dump(mode="json")).items():
        if key in sources["cli"]:
            source = "cli"
        elif key in sources["env"]:
            source = "env SENTINEL_" + key.upper().replace(".", "__")
        elif key in sources["toml"]:
            source = f"toml {sources.get('file')}"
        else:
            source = "default"
        rows.append((key, value, source))
    for name, env in SECRET_ENV.items():
        rows.append(
            (f"secrets.{name}", "***set***" if os.environ.get(env) else "not set", f"env {env}")
        )
    return rows


def secret(name: str) -> str | None:
    """Return a secret from the environment (never from a file).

    Args:
        name: One of the keys of :data:`SECRET_ENV`.

    Returns:
        The value, or None when unset or empty.
    """
    return os.environ.get(SECRET_ENV[name]) or None
