"""Risk scoring: the packaged dbt project and ``score_batch``."""
