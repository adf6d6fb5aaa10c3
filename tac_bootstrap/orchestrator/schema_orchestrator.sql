PRAGMA journal_mode = WAL;
PRAGMA foreign_keys = ON;
PRAGMA user_version = 3;

-- Schema of the tac-bootstrap orchestrator database (SQLite >= 3.35), version 3.
--
-- tac_bootstrap.orchestrator.database applies it to a new, empty database file; a file made
-- with an older version is brought here by the scripts of migrations/, in order. A schema
-- change is a new migration and the same change here. The tables follow
-- orch_database_models.py column by column:
--   * ids are canonical UUID strings (TEXT);
--   * timestamps are ISO 8601 TEXT as the models write it, UTC by default: a real date and
--     time as YYYY-MM-DDTHH:MM:SS (strftime of those 19 characters gives them back), then
--     optional fractions and offset (datetime() reads the whole text); the GLOB comes first
--     so that text like 'now' never reaches the date functions;
--   * JSON columns hold a JSON object: CHECK (json_valid(col) AND json_type(col) = 'object'),
--     as `col IS NULL OR (...)` where the model allows None (json_valid(NULL) is 0);
--   * every allowed-values set and every >= 0 bound of the models is a CHECK here, and REAL
--     columns are finite: abs(col) < 9e999 (9e999 reads as infinity in SQLite);
--   * NOT NULL exactly where the model refuses None.
-- Deleting an orchestrator agent deletes its agents, their prompts and logs, and its chat;
-- archive it (status 'archived') to keep the history. Workflow runs outlive both: their
-- references become NULL.

CREATE TABLE IF NOT EXISTS orchestrator_agents (
    id TEXT NOT NULL PRIMARY KEY,
    name TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'inactive', 'archived')),
    metadata TEXT
        CHECK (metadata IS NULL OR (json_valid(metadata) AND json_type(metadata) = 'object')),
    created_at TEXT NOT NULL CHECK (
        created_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '+0 days')
        = substr(created_at, 1, 19)
        AND datetime(created_at) IS NOT NULL
    ),
    updated_at TEXT NOT NULL CHECK (
        updated_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(updated_at, 1, 19), '+0 days')
        = substr(updated_at, 1, 19)
        AND datetime(updated_at) IS NOT NULL
    )
);

CREATE TABLE IF NOT EXISTS agents (
    id TEXT NOT NULL PRIMARY KEY,
    orchestrator_agent_id TEXT NOT NULL
        REFERENCES orchestrator_agents (id) ON DELETE CASCADE,
    session_id TEXT,
    name TEXT,
    model TEXT,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    created_at TEXT NOT NULL CHECK (
        created_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '+0 days')
        = substr(created_at, 1, 19)
        AND datetime(created_at) IS NOT NULL
    ),
    started_at TEXT CHECK (
        started_at IS NULL OR (
            started_at GLOB '????-??-??T??:??:??*'
            AND strftime('%Y-%m-%dT%H:%M:%S', substr(started_at, 1, 19), '+0 days')
            = substr(started_at, 1, 19)
            AND datetime(started_at) IS NOT NULL
        )
    ),
    completed_at TEXT CHECK (
        completed_at IS NULL OR (
            completed_at GLOB '????-??-??T??:??:??*'
            AND strftime('%Y-%m-%dT%H:%M:%S', substr(completed_at, 1, 19), '+0 days')
            = substr(completed_at, 1, 19)
            AND datetime(completed_at) IS NOT NULL
        )
    )
);

CREATE TABLE IF NOT EXISTS prompts (
    id TEXT NOT NULL PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    content TEXT NOT NULL,
    response TEXT,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'running', 'completed', 'failed')),
    tokens_input INTEGER NOT NULL DEFAULT 0 CHECK (tokens_input >= 0),
    tokens_output INTEGER NOT NULL DEFAULT 0 CHECK (tokens_output >= 0),
    cost_usd REAL NOT NULL DEFAULT 0.0 CHECK (cost_usd >= 0 AND abs(cost_usd) < 9e999),
    created_at TEXT NOT NULL CHECK (
        created_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '+0 days')
        = substr(created_at, 1, 19)
        AND datetime(created_at) IS NOT NULL
    ),
    completed_at TEXT CHECK (
        completed_at IS NULL OR (
            completed_at GLOB '????-??-??T??:??:??*'
            AND strftime('%Y-%m-%dT%H:%M:%S', substr(completed_at, 1, 19), '+0 days')
            = substr(completed_at, 1, 19)
            AND datetime(completed_at) IS NOT NULL
        )
    )
);

CREATE TABLE IF NOT EXISTS agent_logs (
    id TEXT NOT NULL PRIMARY KEY,
    agent_id TEXT NOT NULL REFERENCES agents (id) ON DELETE CASCADE,
    log_type TEXT NOT NULL CHECK (log_type IN ('step_start', 'step_end', 'event', 'error')),
    message TEXT NOT NULL,
    metadata TEXT
        CHECK (metadata IS NULL OR (json_valid(metadata) AND json_type(metadata) = 'object')),
    created_at TEXT NOT NULL CHECK (
        created_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '+0 days')
        = substr(created_at, 1, 19)
        AND datetime(created_at) IS NOT NULL
    )
);

CREATE TABLE IF NOT EXISTS system_logs (
    id TEXT NOT NULL PRIMARY KEY,
    log_level TEXT NOT NULL
        CHECK (log_level IN ('debug', 'info', 'warning', 'error', 'critical')),
    message TEXT NOT NULL,
    source TEXT,
    metadata TEXT
        CHECK (metadata IS NULL OR (json_valid(metadata) AND json_type(metadata) = 'object')),
    created_at TEXT NOT NULL CHECK (
        created_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '+0 days')
        = substr(created_at, 1, 19)
        AND datetime(created_at) IS NOT NULL
    )
);

CREATE TABLE IF NOT EXISTS orchestrator_chat (
    id TEXT NOT NULL PRIMARY KEY,
    orchestrator_agent_id TEXT NOT NULL
        REFERENCES orchestrator_agents (id) ON DELETE CASCADE,
    sender_type TEXT NOT NULL CHECK (sender_type IN ('user', 'orchestrator', 'agent')),
    receiver_type TEXT NOT NULL CHECK (receiver_type IN ('user', 'orchestrator', 'agent')),
    message TEXT NOT NULL,
    summary TEXT,
    -- A chat line outlives the runtime agent it mentions.
    agent_id TEXT REFERENCES agents (id) ON DELETE SET NULL,
    metadata TEXT
        CHECK (metadata IS NULL OR (json_valid(metadata) AND json_type(metadata) = 'object')),
    created_at TEXT NOT NULL CHECK (
        created_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '+0 days')
        = substr(created_at, 1, 19)
        AND datetime(created_at) IS NOT NULL
    ),
    updated_at TEXT NOT NULL CHECK (
        updated_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(updated_at, 1, 19), '+0 days')
        = substr(updated_at, 1, 19)
        AND datetime(updated_at) IS NOT NULL
    )
);

CREATE TABLE IF NOT EXISTS ai_developer_workflows (
    id TEXT NOT NULL PRIMARY KEY,
    -- A workflow run is history: it outlives the orchestrator agent that started it.
    orchestrator_agent_id TEXT REFERENCES orchestrator_agents (id) ON DELETE SET NULL,
    adw_name TEXT NOT NULL,
    workflow_type TEXT NOT NULL,
    description TEXT,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending', 'in_progress', 'completed', 'failed', 'cancelled')),
    current_step TEXT,
    total_steps INTEGER NOT NULL DEFAULT 0 CHECK (total_steps >= 0),
    completed_steps INTEGER NOT NULL DEFAULT 0 CHECK (completed_steps >= 0),
    started_at TEXT CHECK (
        started_at IS NULL OR (
            started_at GLOB '????-??-??T??:??:??*'
            AND strftime('%Y-%m-%dT%H:%M:%S', substr(started_at, 1, 19), '+0 days')
            = substr(started_at, 1, 19)
            AND datetime(started_at) IS NOT NULL
        )
    ),
    completed_at TEXT CHECK (
        completed_at IS NULL OR (
            completed_at GLOB '????-??-??T??:??:??*'
            AND strftime('%Y-%m-%dT%H:%M:%S', substr(completed_at, 1, 19), '+0 days')
            = substr(completed_at, 1, 19)
            AND datetime(completed_at) IS NOT NULL
        )
    ),
    duration_seconds REAL CHECK (duration_seconds >= 0 AND abs(duration_seconds) < 9e999),
    input_data TEXT
        CHECK (input_data IS NULL OR (json_valid(input_data) AND json_type(input_data) = 'object')),
    output_data TEXT
        CHECK (output_data IS NULL OR (json_valid(output_data) AND json_type(output_data) = 'object')),
    error_message TEXT,
    error_step TEXT,
    error_count INTEGER NOT NULL DEFAULT 0 CHECK (error_count >= 0),
    metadata TEXT
        CHECK (metadata IS NULL OR (json_valid(metadata) AND json_type(metadata) = 'object')),
    created_at TEXT NOT NULL CHECK (
        created_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(created_at, 1, 19), '+0 days')
        = substr(created_at, 1, 19)
        AND datetime(created_at) IS NOT NULL
    ),
    updated_at TEXT NOT NULL CHECK (
        updated_at GLOB '????-??-??T??:??:??*'
        AND strftime('%Y-%m-%dT%H:%M:%S', substr(updated_at, 1, 19), '+0 days')
        = substr(updated_at, 1, 19)
        AND datetime(updated_at) IS NOT NULL
    )
);

-- Indexes for the queries of the database module: every foreign key (list by parent, usage
-- totals, ON DELETE actions) and the status and level filters. Lists are in insertion order
-- (rowid), which an index on one column already provides after its key.
CREATE INDEX IF NOT EXISTS idx_agents_orchestrator_agent_id ON agents (orchestrator_agent_id);
CREATE INDEX IF NOT EXISTS idx_agents_status ON agents (status);
CREATE INDEX IF NOT EXISTS idx_prompts_agent_id ON prompts (agent_id);
CREATE INDEX IF NOT EXISTS idx_agent_logs_agent_id ON agent_logs (agent_id);
CREATE INDEX IF NOT EXISTS idx_system_logs_log_level ON system_logs (log_level);
CREATE INDEX IF NOT EXISTS idx_orchestrator_chat_orchestrator_agent_id
    ON orchestrator_chat (orchestrator_agent_id);
CREATE INDEX IF NOT EXISTS idx_orchestrator_chat_agent_id ON orchestrator_chat (agent_id);
CREATE INDEX IF NOT EXISTS idx_ai_developer_workflows_orchestrator_agent_id
    ON ai_developer_workflows (orchestrator_agent_id);
CREATE INDEX IF NOT EXISTS idx_ai_developer_workflows_status ON ai_developer_workflows (status);

-- updated_at follows every change: the database module sets it itself; these triggers stamp
-- it when an UPDATE from elsewhere leaves it unchanged (same ISO 8601 UTC form, milliseconds).
CREATE TRIGGER IF NOT EXISTS trg_orchestrator_agents_updated_at
AFTER UPDATE ON orchestrator_agents FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE orchestrator_agents SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE id = NEW.id;
END;

CREATE TRIGGER IF NOT EXISTS trg_orchestrator_chat_updated_at
AFTER UPDATE ON orchestrator_chat FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE orchestrator_chat SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE id = NEW.id;
END;

CREATE TRIGGER IF NOT EXISTS trg_ai_developer_workflows_updated_at
AFTER UPDATE ON ai_developer_workflows FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE ai_developer_workflows SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE id = NEW.id;
END;
