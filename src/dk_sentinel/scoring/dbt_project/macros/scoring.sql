{#- Small portable helpers used by the scoring models (DuckDB and Snowflake alike). -#}

{#- Run identity (as_of, run_id, scored_at), read when the models run from the scoring_runs
    row of this run: `sentinel score-batch` names it in the environment (DK_SENTINEL_RUN_ID)
    and marks it 'running' while it holds the scoring lease. A run that is no longer running
    (its lease was taken over and the new holder repaired it) stops here, so its models never
    write under another run's id. The environment, not a var, because nothing in the project
    may change from run to run: dbt's partial parsing survives (a --vars change makes dbt
    re-parse, about 1.5 s a run), and env_var is read only when executing, never at parse
    time. A direct `dbt build` with no such run uses the vars. Each call is one query, so a
    model calls it once (`{% set ... %}`): on Snowflake a query is a round trip. -#}
{% macro current_run() -%}
    {%- if execute -%}
        {%- set mine = this_run_id() -%}
        {%- set rows = run_query(
            "select run_id, " ~ timestamp_text('as_of') ~ ", " ~ timestamp_text('started_at')
            ~ " from "
            ~ var('ops_schema') ~ ".scoring_runs where status = 'running' "
            ~ ("and run_id = '" ~ mine ~ "' " if mine else "")
            ~ "order by started_at desc limit 1") -%}
        {%- if rows | length > 0 -%}
            {{ return({'run_id': rows[0][0], 'as_of': rows[0][1], 'scored_at': rows[0][2]}) }}
        {%- elif mine -%}
            {{ exceptions.raise_compiler_error("scoring run " ~ mine ~ " is no longer running "
                ~ "(its lease was taken over): this run stops and writes nothing more") }}
        {%- endif -%}
    {%- endif -%}
    {{ return({'run_id': var('run_id'), 'as_of': var('as_of'), 'scored_at': var('scored_at')}) }}
{%- endmacro %}

{#- The run score-batch named in the environment ('' outside a run), checked to be a run id
    (it is written into SQL). Read only when executing (see current_run). -#}
{% macro this_run_id() -%}
    {%- set mine = env_var('DK_SENTINEL_RUN_ID', '') if execute else '' -%}
    {%- if mine and not modules.re.fullmatch('[A-Za-z0-9_.:-]{1,64}', mine) -%}
        {{ exceptions.raise_compiler_error("not a run id: " ~ mine) }}
    {%- endif -%}
    {{ return(mine) }}
{%- endmacro %}

{#- A timestamp as 'YYYY-MM-DD HH:MM:SS' text, whatever the session's output format. -#}
{% macro timestamp_text(column) -%}
    {%- if target.type == 'snowflake' -%}
        to_char({{ column }}, 'YYYY-MM-DD HH24:MI:SS')
    {%- else -%}
        strftime({{ column }}, '%Y-%m-%d %H:%M:%S')
    {%- endif -%}
{%- endmacro %}

{#- Snowflake sessions pinned as sentinel's own connections are (warehouse/snowflake.py:
    PINNED_SESSION and session_parameters; dbt-snowflake sets only the query tag): UTC,
    zone-less timestamps, ISO literals, autocommit, detached queries aborted, and the lock and
    statement timeouts of the settings. Nothing on DuckDB, nor on the emulator (fakesnow has
    no ALTER SESSION; its sessions are UTC and zone-less anyway). -#}
{% macro pin_session() -%}
    {%- if target.type == 'snowflake' and var('pin_session', true) -%}
        alter session set timezone = 'UTC', timestamp_type_mapping = 'TIMESTAMP_NTZ',
            timestamp_input_format = 'AUTO', autocommit = true, abort_detached_query = true,
            lock_timeout = {{ var('lock_timeout_seconds', 30) | int }},
            statement_timeout_in_seconds = {{ var('statement_timeout_seconds', 7200) | int }}
    {%- endif -%}
{%- endmacro %}

{#- T as a timestamp literal (unit tests override this macro). -#}
{% macro as_of() -%}
    cast('{{ current_run()["as_of"] }}' as timestamp)
{%- endmacro %}

{#- A point-lookup index on DuckDB (unique, ART), for the read path's snapshots: named per
    invocation, so its name never meets the previous table's index while both tables exist.
    Nothing on Snowflake, where the table's order lets a lookup prune micro-partitions. -#}
{% macro index_for_lookups(column) -%}
    {%- if target.type == 'duckdb' -%}
    create unique index {{ this.identifier }}_{{ invocation_id | replace('-', '') }}
        on {{ this }} ({{ column }})
    {%- endif -%}
{%- endmacro %}

{#- The rows of the run being built, in SQL (no extra query): used by the data tests. -#}
{% macro this_run_filter() -%}
    {%- set mine = this_run_id() -%}
    {%- if mine -%}
    run_id = '{{ mine }}'
    {%- else -%}
    run_id = coalesce((select max(run_id) from {{ var('ops_schema') }}.scoring_runs
                       where status = 'running'), '{{ var("run_id") }}')
    {%- endif -%}
{%- endmacro %}

{% macro clamp01(expr) -%}
    least(greatest(coalesce({{ expr }}, 0.0), 0.0), 1.0)
{%- endmacro %}

{% macro safe_div(num, den) -%}
    (cast({{ num }} as double) / nullif(cast({{ den }} as double), 0.0))
{%- endmacro %}

{#- Evidence weighting, the one way every component weighs a share, rate or ratio by the
    count it rests on (README "How scoring works", _marts__models.yml):

    A share estimated from n events is the beta-binomial posterior mean with a prior centred
    on its reference value and worth `prior_strength` (k) events:
        estimate = (hits + k * reference) / (n + k)
    so its departure from the reference is
        rise = estimate - reference = n / (n + k) * (hits / n - reference)
    -- the observed departure times the evidence weight n / (n + k). A log ratio (stakes,
    bets per day, weekly growth) is shrunk the same way (normal-normal shrinkage with a prior
    worth k observations). One bet moves an estimate by at most 1 / (1 + k); it takes about
    k events for the observation to weigh as much as the prior. -#}
{% macro evidence_weight(n) -%}
    (cast(coalesce({{ n }}, 0) as double) / (cast(coalesce({{ n }}, 0) as double) + {{ var('prior_strength') }}))
{%- endmacro %}

{#- The same weight for an estimate that rests on active days: a day sums several bets, so
    the prior is worth prior_strength_days days. -#}
{% macro evidence_weight_days(n) -%}
    (cast(coalesce({{ n }}, 0) as double) / (cast(coalesce({{ n }}, 0) as double) + {{ var('prior_strength_days') }}))
{%- endmacro %}

{#- The log ratio of the share of days a player was active in the recent window to that in the
    baseline window (over the baseline days the account existed, so a new account is not a
    rise; recent days when the whole book moved are left out of both counts), each share
    smoothed by half a day (so 0 active days is finite). -#}
{% macro log_activity_ratio(recent_days, baseline_days, account_age_days, recent_shock_days='0') -%}
    (ln((cast({{ recent_days }} as double) + 0.5)
        / (greatest({{ var('recent_window_days') }} - cast(coalesce({{ recent_shock_days }}, 0) as double), 1.0) + 1.0))
     - ln((cast({{ baseline_days }} as double) + 0.5)
          / (least(greatest(cast({{ account_age_days }} as double) - {{ var('recent_window_days') }}, 1.0),
                   {{ var('baseline_window_days') }}) + 1.0)))
{%- endmacro %}

{#- The posterior-mean share of `hits` in `n` with a prior worth k events at `prior`. -#}
{% macro shrunk_share(hits, n, prior) -%}
    ((cast(coalesce({{ hits }}, 0) as double) + {{ var('prior_strength') }} * ({{ prior }}))
     / (cast(coalesce({{ n }}, 0) as double) + {{ var('prior_strength') }}))
{%- endmacro %}

{#- How far the posterior share of `hits` in `n` rises above `reference` (negative when it
    falls): n / (n + k) * (hits / n - reference); 0 with no events. -#}
{% macro share_rise(hits, n, reference) -%}
    ((cast(coalesce({{ hits }}, 0) as double) - cast(coalesce({{ n }}, 0) as double) * ({{ reference }}))
     / (cast(coalesce({{ n }}, 0) as double) + {{ var('prior_strength') }}))
{%- endmacro %}

{#- A graded score in [0, 1) from evidence x >= 0: 1 - exp(-x). It rises steadily (0.63 at
    x = 1, 0.86 at 2, 0.95 at 3) and never reaches 1, so strong evidence keeps ranking
    resolution instead of piling up at a ceiling. -#}
{% macro saturate(x) -%}
    (1.0 - exp(-greatest(coalesce({{ x }}, 0.0), 0.0)))
{%- endmacro %}

{#- The composite (see README "How scoring works"), over var('risk_components') (each with
    its weight; dk_sentinel.vocabulary.REGISTRY): the strongest present behavioural
    component, topped up by the weighted mean of all present components in proportion to the
    remaining headroom:  composite = m + (1 - m) * weighted_mean.
    Absent components (null) are left out of both terms and their weights renormalised away,
    so a book without payments or account events (money_behaviour absent) scores as in v3. -#}
{% macro composite() -%}
    {%- set strongest -%}
    greatest({% for c in var('risk_components') if c.behavioural %}coalesce({{ c.name }}, 0.0){% if not loop.last %}, {% endif %}{% endfor %})
    {%- endset -%}
    (
      {{ strongest }}
      + (1.0 - {{ strongest }})
      * coalesce(
          ({% for c in var('risk_components') %}{% if not loop.first %} + {% endif %}coalesce({{ c.weight }} * {{ c.name }}, 0.0){% endfor %})
          / nullif({% for c in var('risk_components') %}{% if not loop.first %} + {% endif %}case when {{ c.name }} is null then 0.0 else {{ c.weight }} end{% endfor %}, 0.0),
          0.0)
    )
{%- endmacro %}

{#- The component that names the driver: the strongest, except that chasing explains the rise
    in stakes that comes with it: loss_chase is named when it reaches driver_chase_share of the
    strongest other component (a chaser's stakes rise too, but the chase is the behaviour). -#}
{% macro primary_driver() -%}
    {%- set others = [] -%}
    {%- for c in var('risk_components') if c.name != 'loss_chase' -%}
        {%- set _ = others.append('coalesce(' ~ c.name ~ ', 0)') -%}
    {%- endfor -%}
    case
        when greatest(coalesce(loss_chase, 0), {{ others | join(', ') }}) = 0 then null
        when coalesce(loss_chase, 0) >= {{ var('driver_chase_share') }} * greatest({{ others | join(', ') }})
            then 'loss_chase'
        {%- for c in var('risk_components') if c.name != 'loss_chase' %}
        when coalesce({{ c.name }}, 0) = greatest({{ others | join(', ') }}) then '{{ c.name }}'
        {%- endfor %}
    end
{%- endmacro %}

{#- money_behaviour (scoring v4): money and RG-tool behaviour, from the per-player statistics
    of int_player_money and the book's move (rg_risk_scores). Each marker adds evidence
    points; the component is saturate(points), so one point reads 0.63 and two 0.86. A marker
    in the baseline window (before the recent one) weighs money_past_weight of a recent one:
    the literature's strongest predictors are earlier limit changes and reversed withdrawals
    (Hopfgartner et al. 2023), so the past counts, less. Protective acts (a limit set or
    lowered, a timeout or a self-exclusion the player starts) add nothing.
    - re-deposits after a loss beyond what the player's own past (times the book's move)
      predicts, less one tolerated: money_points_per_deposit_after_loss each;
    - reversed withdrawals (one tolerated at half a marker), declined deposits (one tolerated);
    - deposit methods used in the recent window beyond two;
    - deposit limits raised (removed counts twice), less half a raise;
    - self-exclusion page views beyond one; each contact with RG support;
    - deposit frequency: the log ratio of recent deposits to the expected, beyond ln 2, weighed
      by its evidence (recent deposits / (recent deposits + prior_strength_days)); none for an
      account with less than a recent window of baseline. Reloads are shown, not scored. -#}
{% macro money_behaviour() -%}
    {%- set past = var('money_past_weight') -%}
    {{ saturate(
        'greatest(money_recent_deposits_after_loss - expected_deposits_after_loss - 1.0, 0.0) * '
            ~ var('money_points_per_deposit_after_loss')
        ~ ' + greatest(money_recent_reversed_withdrawals + ' ~ past ~ ' * money_baseline_reversed_withdrawals - 0.5, 0.0) * 0.4'
        ~ ' + greatest(money_recent_declined_deposits + ' ~ past ~ ' * money_baseline_declined_deposits - 1.0, 0.0) * 0.33'
        ~ ' + greatest(money_recent_deposit_methods - 2.0, 0.0) * 0.33'
        ~ ' + greatest(money_recent_limit_raises + 2.0 * money_recent_limit_removals + ' ~ past
            ~ ' * (money_baseline_limit_raises + 2.0 * money_baseline_limit_removals) - 0.5, 0.0) * 0.4'
        ~ ' + greatest(money_recent_self_exclusion_views + ' ~ past ~ ' * money_baseline_self_exclusion_views - 1.0, 0.0) * 0.5'
        ~ ' + (money_recent_rg_contacts + ' ~ past ~ ' * money_baseline_rg_contacts) * 0.5'
        ~ ' + case when money_baseline_span * ' ~ var('baseline_window_days') ~ ' >= ' ~ var('recent_window_days') ~ ' then '
            ~ evidence_weight_days('money_recent_deposits')
            ~ ' * greatest(ln((money_recent_deposits + 0.5) / (expected_deposits + 0.5)) - ln(2.0), 0.0) / ln(2.0)'
            ~ ' else 0.0 end'
    ) }}
{%- endmacro %}

{#- Category with inclusive cut-offs compared in decimal, so 0.80 is exactly CRITICAL. -#}
{% macro risk_category(score, critical, high, medium) -%}
    {%- set c = var('categories') -%}
    case
        when cast(round({{ score }}, 6) as decimal(12, 6)) >= cast('{{ critical }}' as decimal(12, 6)) then '{{ c[0] }}'
        when cast(round({{ score }}, 6) as decimal(12, 6)) >= cast('{{ high }}' as decimal(12, 6)) then '{{ c[1] }}'
        when cast(round({{ score }}, 6) as decimal(12, 6)) >= cast('{{ medium }}' as decimal(12, 6)) then '{{ c[2] }}'
        else '{{ c[3] }}'
    end
{%- endmacro %}

{#- Categories in order, as a number (LOW 0 .. CRITICAL 3), for "at or above" comparisons. -#}
{% macro category_rank(category) -%}
    case {{ category }}
    {%- for c in var('categories') %} when '{{ c }}' then {{ loop.length - loop.index }}{% endfor %} else 0 end
{%- endmacro %}

{#- Words of dk_sentinel.vocabulary (the vars) as a SQL list of string literals. -#}
{% macro sql_list(words) -%}
    ({% for w in words %}'{{ w }}'{% if not loop.last %}, {% endif %}{% endfor %})
{%- endmacro %}

{#- The applied scoring profile (`sentinel calibrate --apply`), read at compile time like
    current_run: {'version', 'horizon_days', 'intercept', 'terms': [{feature, transform,
    center, scale, coefficient}]}, or none. The profile is data in the ops schema, never
    code; the condition is ACTIVE_PROFILE in dk_sentinel.scoring. -#}
{% macro active_profile() -%}
    {%- if execute -%}
        {%- set head = run_query(
            "select profile_version, horizon_days, intercept from "
            ~ var('ops_schema') ~ ".scoring_profiles "
            ~ "where activated_at is not null and deactivated_at is null "
            ~ "order by activated_at desc limit 1") -%}
        {%- if head | length > 0 -%}
            {%- set version = head[0][0] -%}
            {%- set terms = run_query(
                "select feature, transform, center, scale, coefficient from "
                ~ var('ops_schema') ~ ".scoring_profile_terms where profile_version = '"
                ~ version ~ "' order by feature") -%}
            {%- set items = [] -%}
            {%- for t in terms -%}
                {%- set _ = items.append({'feature': t[0], 'transform': t[1], 'center': t[2],
                                     'scale': t[3], 'coefficient': t[4]}) -%}
            {%- endfor -%}
            {{ return({'version': version, 'horizon_days': head[0][1], 'intercept': head[0][2],
                       'terms': items}) }}
        {%- endif -%}
    {%- endif -%}
    {{ return(none) }}
{%- endmacro %}

{#- A profile feature as the model saw it (dk_sentinel.outcomes.calibration.transform_value is the
    same rule in Python): a missing value is 0, then identity, log1p (of the non-negative
    part) or signed log1p. -#}
{% macro profile_transform(transform, column) -%}
    {%- if transform == 'log1p' -%}
        ln(1.0 + greatest(coalesce(cast({{ column }} as double), 0.0), 0.0))
    {%- elif transform == 'signed_log1p' -%}
        (sign(coalesce(cast({{ column }} as double), 0.0))
         * ln(1.0 + abs(coalesce(cast({{ column }} as double), 0.0))))
    {%- else -%}
        coalesce(cast({{ column }} as double), 0.0)
    {%- endif -%}
{%- endmacro %}

{#- The profile's probability: the logistic of intercept + sum(coefficient x standardised
    transformed feature). -#}
{% macro profile_probability(profile) -%}
    1.0 / (1.0 + exp(-({{ profile['intercept'] }}
    {%- for t in profile['terms'] %}
        + ({{ t['coefficient'] }}) * ({{ profile_transform(t['transform'], t['feature']) }} - ({{ t['center'] }})) / {{ t['scale'] }}
    {%- endfor %})))
{%- endmacro %}
