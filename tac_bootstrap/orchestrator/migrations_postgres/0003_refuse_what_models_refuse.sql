-- Migration 0003: the schema refuses what the models refuse. On PostgreSQL the types already
-- hold timestamps (timestamptz) and the first schema already keeps JSON columns to objects;
-- what is left are the finite numbers: abs(col) < 'Infinity' refuses infinities and NaN.
-- Each CHECK is replaced under its own name. A row that breaks one stops the migration, and
-- the database keeps version 2 and every row; correct or delete that row, then open again.
ALTER TABLE prompts DROP CONSTRAINT prompts_cost_usd_check;
ALTER TABLE prompts ADD CONSTRAINT prompts_cost_usd_check
    CHECK (cost_usd >= 0 AND abs(cost_usd) < 'Infinity');

ALTER TABLE ai_developer_workflows DROP CONSTRAINT ai_developer_workflows_duration_seconds_check;
ALTER TABLE ai_developer_workflows ADD CONSTRAINT ai_developer_workflows_duration_seconds_check
    CHECK (duration_seconds >= 0 AND abs(duration_seconds) < 'Infinity');
