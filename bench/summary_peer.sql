-- The command-line summary's headline figures as one DuckDB SQL script: the peer that `summary` is measured
-- against (bench/bench_peer.py) and an independent oracle for its figures (tests/test_summary_sql_peer.py).
--
-- Input: a relation named `sessions` with the canonical columns of the data contract (patient_id,
-- session_date DATE, baseline_pain, followup_pain, baseline_twstrs, followup_twstrs, onset_days, peak_days,
-- wearing_off_days, ...) and `input_order`, a number giving the order of a patient's same-day sessions (the
-- row's place in the file, or batch_id * 1e12 + line in the store). The runner makes it a view over
-- read_csv(FILE) or over the store's `sessions` table. No checking of the data: that is the product's job.
--
-- Definitions (docs/metrics.md), with the default settings:
--   as_of              the latest session date; every figure counts the sessions on or before it
--   response_pct       100 (baseline_pain - followup_pain) / baseline_pain, where baseline_pain > 0 and a
--                      follow-up score exists
--   responder          response_pct >= 30 where there is a pain response, else a TWSTRS drop >= 8 points
--   interval_days      days since the patient's previous session; short when < 84
--   benefit duration   responder sessions only: wearing_off_days when the wear-off fell on or before as_of
--                      (an event), else censored at the next session, or at as_of for the latest session;
--                      median = the smallest time with Kaplan-Meier S(t) <= 0.5 (NULL: not reached)
--   diminished         per measure (pain: response_pct, scale baseline_pain / 100, threshold 30, noise 2
--                      points; TWSTRS: the drop in points, scale 1, threshold 8, noise 8), over the patient's
--                      sessions with that measure, m of them, N = 2: m >= 3; the reference (the mean of the two
--                      best responses before the last N, the best alone when only one) >= threshold; each of
--                      the last N below 50% of the reference and at least `noise` scale points short of it.
--                      A patient is diminished when either measure says so.
--   watch              not diminished; the latest response against the reference of all earlier ones, same
--                      rules, m >= 2 (listed as watch_patients, an extra key of `summary`)

WITH
as_of AS (SELECT max(session_date) AS day FROM sessions),

ordered AS (
    SELECT
        s.patient_id,
        s.session_date,
        s.onset_days,
        s.peak_days,
        s.wearing_off_days,
        s.baseline_pain,
        CASE WHEN s.baseline_pain > 0 AND s.followup_pain IS NOT NULL
             THEN 100.0 * (s.baseline_pain - s.followup_pain) / s.baseline_pain END AS response_pct,
        round(s.followup_twstrs - s.baseline_twstrs, 9) AS twstrs_change,
        s.session_date - lag(s.session_date) OVER w AS interval_days,
        lead(s.session_date) OVER w AS next_date,
        row_number() OVER w AS k,
        a.day AS as_of_day
    FROM sessions s, as_of a
    WHERE s.session_date <= a.day
    WINDOW w AS (PARTITION BY s.patient_id ORDER BY s.session_date, s.input_order)
),

derived AS (
    SELECT
        *,
        CASE WHEN response_pct IS NOT NULL THEN response_pct >= 30
             WHEN twstrs_change IS NOT NULL THEN -twstrs_change >= 8 END AS responder,
        wearing_off_days IS NOT NULL AND session_date + CAST(wearing_off_days AS INTEGER) <= as_of_day AS event
    FROM ordered
),

durations AS (
    SELECT
        CASE WHEN event THEN wearing_off_days
             WHEN next_date IS NOT NULL THEN next_date - session_date
             ELSE as_of_day - session_date END AS t,
        event
    FROM derived
    WHERE responder
),

-- Kaplan-Meier: per distinct time, the number at risk just before it and the events at it.
km_steps AS (
    SELECT t, count(*) AS total, count(*) FILTER (WHERE event) AS d FROM durations GROUP BY t
),
km AS (
    SELECT t, product((n - d) / n) OVER (ORDER BY t ROWS UNBOUNDED PRECEDING) AS survival
    FROM (SELECT t, d, CAST(sum(total) OVER (ORDER BY t DESC) AS DOUBLE) AS n FROM km_steps)
),

-- The diminished / watch rules, once per measure, over each patient's sessions with that measure.
measured AS (
    SELECT patient_id, 'pain' AS measure, session_date, k, response_pct AS v, baseline_pain / 100.0 AS scale,
           30.0 AS threshold, 2.0 AS noise
    FROM derived WHERE response_pct IS NOT NULL
    UNION ALL
    SELECT patient_id, 'twstrs', session_date, k, -twstrs_change, 1.0, 8.0, 8.0
    FROM derived WHERE twstrs_change IS NOT NULL
),
positioned AS (
    SELECT *,
           row_number() OVER (PARTITION BY patient_id, measure ORDER BY k) - 1 AS j,
           count(*) OVER (PARTITION BY patient_id, measure) AS m
    FROM measured
),
-- the best responses before the last N = 2 (for diminished) and before the latest (for watch), best first
ranked AS (
    SELECT *,
           CASE WHEN j < m - 2 THEN row_number() OVER (PARTITION BY patient_id, measure, j < m - 2
                                                      ORDER BY v DESC) END AS rank_before_last_n,
           CASE WHEN j < m - 1 THEN row_number() OVER (PARTITION BY patient_id, measure, j < m - 1
                                                      ORDER BY v DESC) END AS rank_before_latest
    FROM positioned
),
-- each session with its patient's two references (rounded as the product rounds them)
referenced AS (
    SELECT *,
           round(avg(CASE WHEN rank_before_last_n <= 2 THEN v END) OVER p, 9) AS ref_dim,
           round(avg(CASE WHEN rank_before_latest <= 2 THEN v END) OVER p, 9) AS ref_watch
    FROM ranked
    WINDOW p AS (PARTITION BY patient_id, measure)
),
judged AS (
    SELECT patient_id, measure,
           any_value(m) >= 3 AND any_value(ref_dim) >= any_value(threshold)
               AND max(v) FILTER (WHERE j >= m - 2) < 0.5 * any_value(ref_dim)
               AND min(round(scale * (ref_dim - v), 9)) FILTER (WHERE j >= m - 2) >= any_value(noise) - 1e-9
               AS diminished,
           any_value(m) >= 2 AND any_value(ref_watch) >= any_value(threshold)
               AND max(v) FILTER (WHERE j = m - 1) < 0.5 * any_value(ref_watch)
               AND min(round(scale * (ref_watch - v), 9)) FILTER (WHERE j = m - 1) >= any_value(noise) - 1e-9
               AS watch
    FROM referenced
    GROUP BY patient_id, measure
),
flags AS (
    SELECT patient_id,
           bool_or(coalesce(diminished, false)) AS diminished,
           bool_or(coalesce(watch, false)) AS watch
    FROM judged GROUP BY patient_id
)

SELECT
    (SELECT day FROM as_of) AS as_of,
    count(*) AS sessions,
    count(DISTINCT patient_id) AS patients,
    30.0 AS responder_threshold_pct,
    count(responder) AS sessions_with_response,
    avg(CAST(responder AS DOUBLE)) AS responder_rate,
    median(response_pct) AS median_response_pct,
    median(onset_days) AS median_onset_days,
    median(peak_days) AS median_peak_days,
    (SELECT min(t) FROM km WHERE survival <= 0.5 + 1e-12) AS median_duration_days,
    avg(CAST(interval_days < 84 AS DOUBLE)) AS short_interval_share,
    (SELECT coalesce(list(patient_id ORDER BY patient_id), []) FROM flags WHERE diminished) AS diminished_patients,
    (SELECT coalesce(list(patient_id ORDER BY patient_id), []) FROM flags WHERE watch AND NOT diminished)
        AS watch_patients
FROM derived;
