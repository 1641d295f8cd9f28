from pathlib import Path

import pytest

from dk_sentinel.config import describe, load_settings, secret
from dk_sentinel.errors import ConfigError, ExitCode


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults() -> None:
    s = load_settings()
    assert s.warehouse.backend == "duckdb"
    assert s.warehouse.duckdb.path == Path("sentinel.duckdb")
    assert s.warehouse.busy_timeout_seconds == 30
    assert s.warehouse.snowflake.warehouse == "COMPUTE_WH"
    assert s.warehouse.snowflake.database == "RG_ANALYTICS"
    assert s.scoring.weights == {
        "loss_chase": 0.24, "bet_escalation": 0.20, "market_drift": 0.12,
        "temporal_risk": 0.08, "money_behaviour": 0.20, "gamalyze": 0.16,
    }  # fmt: skip
    assert str(s.scoring.thresholds.critical) == "0.80"


def test_precedence_cli_over_env_over_toml_over_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = write(
        tmp_path / "sentinel.toml",
        "[warehouse]\nbusy_timeout_seconds = 11\n[ai]\nmax_tokens = 300\n",
    )
    assert load_settings().warehouse.busy_timeout_seconds == 11  # ./sentinel.toml
    monkeypatch.setenv("SENTINEL_WAREHOUSE__BUSY_TIMEOUT_SECONDS", "22")
    assert load_settings().warehouse.busy_timeout_seconds == 22  # env beats toml
    s = load_settings(overrides={"warehouse.busy_timeout_seconds": 33})
    assert s.warehouse.busy_timeout_seconds == 33  # cli beats env
    assert s.ai.max_tokens == 300  # toml still beats default
    sources = {key: source for key, _, source in describe(s)}
    assert sources["warehouse.busy_timeout_seconds"] == "cli"
    assert sources["ai.max_tokens"] == f"toml {toml.name}"
    assert sources["ai.model"] == "default"


def test_config_file_from_env_and_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    a = write(tmp_path / "a.toml", "analyst = 'from_env_file'\n")
    b = write(tmp_path / "b.toml", "analyst = 'from_flag_file'\n")
    monkeypatch.setenv("SENTINEL_CONFIG", str(a))
    assert load_settings().analyst == "from_env_file"
    assert load_settings(b).analyst == "from_flag_file"
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "missing.toml")


def test_weights_must_sum_to_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTINEL_SCORING__WEIGHTS__LOSS_CHASE", "0.9")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "scoring.weights" in info.value.message
    assert "must sum to 1" in info.value.message
    assert info.value.exit_code == ExitCode.CONFIG == 78


def test_negative_weight_is_refused() -> None:
    with pytest.raises(
        ConfigError, match=r"scoring.weights.gamalyze: Input should be greater than or equal to 0"
    ):
        load_settings(overrides={"scoring.weights.gamalyze": -0.1})


def test_thresholds_strictly_decreasing() -> None:
    with pytest.raises(ConfigError, match="strictly decreasing"):
        load_settings(overrides={"scoring.thresholds.high": "0.9"})
    with pytest.raises(ConfigError, match="strictly decreasing"):
        load_settings(overrides={"scoring.thresholds.medium": "0"})


def test_unknown_key_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path / "sentinel.toml", "[scoring]\nrecent_windw_days = 7\n")
    with pytest.raises(
        ConfigError,
        match=r"unknown setting 'scoring.recent_windw_days' \(did you mean 'scoring.recent_window_days'\?\)",
    ):
        load_settings()


def test_bad_backend_names_allowed_values() -> None:
    with pytest.raises(
        ConfigError, match=r"warehouse.backend: Input should be 'duckdb' or 'snowflake'"
    ):
        load_settings(overrides={"warehouse.backend": "oracle"})


def test_secret_in_toml_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "sentinel.toml", "[warehouse.snowflake]\npassword = 'hunter2'\n")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert "secrets are never read from files" in info.value.message
    assert "SNOWFLAKE_PASSWORD" in info.value.hint
    assert "hunter2" not in info.value.message + info.value.hint


def test_invalid_toml_syntax(tmp_path: Path) -> None:
    write(tmp_path / "sentinel.toml", "[warehouse\n")
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_settings()


def test_secrets_come_from_env_and_are_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-secret-value")
    assert secret("anthropic_api_key") == "sk-secret-value"
    rows = {key: value for key, value, _ in describe(load_settings())}
    assert rows["secrets.anthropic_api_key"] == "***set***"
    assert rows["secrets.snowflake_password"] == "not set"
    assert "sk-secret-value" not in repr(rows)


def test_identifiers_are_validated() -> None:
    with pytest.raises(ConfigError, match="not a plain SQL identifier"):
        load_settings(overrides={"warehouse.schemas.raw": "raw; drop table x"})


def test_example_file_is_valid_and_complete(monkeypatch: pytest.MonkeyPatch) -> None:
    example = Path(__file__).parents[2] / "sentinel.toml.example"
    settings = load_settings(example)
    assert settings.warehouse.backend == "duckdb"
    documented = example.read_text(encoding="utf-8")
    for key, _, _ in describe(settings):
        if not key.startswith("secrets."):
            assert key.rsplit(".", 1)[-1] in documented, (
                f"{key} is not documented in sentinel.toml.example"
            )


def test_dbt_builds_one_model_at_a_time_on_duckdb_and_four_on_snowflake(tmp_path: Path) -> None:
    """On DuckDB each query already uses every core; two models at once ran slower."""
    from dk_sentinel.scoring.dbt import profile_yaml

    settings = load_settings(overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb"})
    assert settings.scoring.models_at_once("duckdb") == 1
    assert "      threads: 1\n" in profile_yaml(settings)
    assert settings.scoring.models_at_once("snowflake") == 4
    chosen = load_settings(
        overrides={"warehouse.duckdb.path": tmp_path / "w.duckdb", "scoring.dbt_threads": 3}
    )
    assert chosen.scoring.models_at_once("duckdb") == 3
    assert "      threads: 3\n" in profile_yaml(chosen)
