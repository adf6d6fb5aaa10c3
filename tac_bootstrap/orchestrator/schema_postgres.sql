-- Schema of the tac-bootstrap orchestrator database on PostgreSQL (13 or newer), version 3.
--
-- tac_bootstrap.orchestrator.database_postgres applies it to an empty database and records
-- version 3 in schema_migrations; an older database gets the files of migrations_postgres/
-- instead (the same numbering as the SQLite migrations). It holds the same tables, columns, NOT NULLs, CHECKs, defaults, foreign keys with
-- their ON DELETE actions and indexes as schema_orchestrator.sql, in PostgreSQL's types:
--   * ids are uuid; timestamps are timestamptz (an instant: a time without offset is UTC);
--   * JSON columns are jsonb holding an object, where SQLite has TEXT with json_valid;
--   * int fields are bigint (SQLite's INTEGER is 64 bits), float fields double precision and
--     finite (abs(col) < 'Infinity' refuses infinities and NaN, as the models do).
-- sync-check proves that both schemas and the models agree.

CREATE TABLE orchestrator_agents (
    id uuid NOT NULL PRIMARY KEY,
    name text NOT NULL,
    description text,
    status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'archived')),
    metadata jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE agents (
    id uuid NOT NULL PRIMARY KEY,
    orchestrator_agent_id uuid NOT NULL
        REFERENCES orchestrator_agents (id) ON DELETE CASCADE,
    session_id text,
    name text,
    model text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    created_at timestamptz NOT NULL,
    started_at timestamptz,
    completed_at timestamptz
);

CREATE TABLE prompts (
    id uuid NOT NULL PRIMARY KEY,
    agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    content text NOT NULL,
    response text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    tokens_input bigint NOT NULL DEFAULT 0 CHECK (tokens_input >= 0),
    tokens_output bigint NOT NULL DEFAULT 0 CHECK (tokens_output >= 0),
    cost_usd double precision NOT NULL DEFAULT 0.0
        CHECK (cost_usd >= 0 AND abs(cost_usd) < 'Infinity'),
    created_at timestamptz NOT NULL,
    completed_at timestamptz
);

CREATE TABLE agent_logs (
    id uuid NOT NULL PRIMARY KEY,
    agent_id uuid NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    log_type text NOT NULL CHECK (log_type IN ('step_start', 'step_end', 'event', 'error')),
    message text NOT NULL,
    metadata jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_at timestamptz NOT NULL
);

CREATE TABLE system_logs (
    id uuid NOT NULL PRIMARY KEY,
    log_level text NOT NULL
        CHECK (log_level IN ('debug', 'info', 'warning', 'error', 'critical')),
    message text NOT NULL,
    source text,
    metadata jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_at timestamptz NOT NULL
);

CREATE TABLE orchestrator_chat (
    id uuid NOT NULL PRIMARY KEY,
    orchestrator_agent_id uuid NOT NULL
        REFERENCES orchestrator_agents (id) ON DELETE CASCADE,
    sender_type text NOT NULL CHECK (sender_type IN ('user', 'orchestrator', 'agent')),
    receiver_type text NOT NULL CHECK (receiver_type IN ('user', 'orchestrator', 'agent')),
    message text NOT NULL,
    summary text,
    -- A chat line outlives the runtime agent it mentions.
    agent_id uuid REFERENCES agents (id) ON DELETE SET NULL,
    metadata jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE ai_developer_workflows (
    id uuid NOT NULL PRIMARY KEY,
    -- A workflow run is history: it outlives the orchestrator agent that started it.
    orchestrator_agent_id uuid REFERENCES orchestrator_agents (id) ON DELETE SET NULL,
    adw_name text NOT NULL,
    workflow_type text NOT NULL,
    description text,
    status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    current_step text,
    total_steps bigint NOT NULL DEFAULT 0 CHECK (total_steps >= 0),
    completed_steps bigint NOT NULL DEFAULT 0 CHECK (completed_steps >= 0),
    started_at timestamptz,
    completed_at timestamptz,
    duration_seconds double precision
        CHECK (duration_seconds >= 0 AND abs(duration_seconds) < 'Infinity'),
    input_data jsonb CHECK (jsonb_typeof(input_data) = 'object'),
    output_data jsonb CHECK (jsonb_typeof(output_data) = 'object'),
    error_message text,
    error_step text,
    error_count bigint NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    metadata jsonb CHECK (jsonb_typeof(metadata) = 'object'),
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

-- The same indexes as the SQLite schema: every foreign key (list by parent, usage totals,
-- ON DELETE actions) and the status and level filters.
CREATE INDEX idx_agents_orchestrator_agent_id ON agents (orchestrator_agent_id);
CREATE INDEX idx_agents_status ON agents (status);
CREATE INDEX idx_prompts_agent_id ON prompts (agent_id);
CREATE INDEX idx_agent_logs_agent_id ON agent_logs (agent_id);
CREATE INDEX idx_system_logs_log_level ON system_logs (log_level);
CREATE INDEX idx_orchestrator_chat_orchestrator_agent_id
    ON orchestrator_chat (orchestrator_agent_id);
CREATE INDEX idx_orchestrator_chat_agent_id ON orchestrator_chat (agent_id);
CREATE INDEX idx_ai_developer_workflows_orchestrator_agent_id
    ON ai_developer_workflows (orchestrator_agent_id);
CREATE INDEX idx_ai_developer_workflows_status ON ai_developer_workflows (status);

-- updated_at follows every change: the database module sets it itself; this trigger stamps it
-- when an UPDATE from elsewhere leaves it unchanged (clock_timestamp: the time of the change,
-- not of the transaction's start).
CREATE FUNCTION stamp_updated_at() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
        NEW.updated_at := clock_timestamp();
    END IF;
    RETURN NEW;
END;
$$;

CREATE TRIGGER trg_orchestrator_agents_updated_at
BEFORE UPDATE ON orchestrator_agents FOR EACH ROW EXECUTE FUNCTION stamp_updated_at();

CREATE TRIGGER trg_orchestrator_chat_updated_at
BEFORE UPDATE ON orchestrator_chat FOR EACH ROW EXECUTE FUNCTION stamp_updated_at();

CREATE TRIGGER trg_ai_developer_workflows_updated_at
BEFORE UPDATE ON ai_developer_workflows FOR EACH ROW EXECUTE FUNCTION stamp_updated_at();
