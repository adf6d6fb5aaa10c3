-- Migration 0003: the schema refuses what the models refuse, so that every stored row loads:
-- timestamps in the models' ISO 8601 form, JSON columns holding an object, finite REAL
-- values. SQLite cannot add a CHECK to a table, so each table is rebuilt the way SQLite
-- documents it (https://www.sqlite.org/lang_altertable.html#otheralter): create the new
-- table, copy the rows, drop the old one, rename the new one, create its indexes and
-- triggers again. The database module runs it with foreign keys off and checks them before
-- committing. A row that breaks a new CHECK stops the migration: the file keeps version 2
-- and every row, and the error names the table; correct or delete that row, then open again.

CREATE TABLE new_orchestrator_agents (
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
INSERT INTO new_orchestrator_agents (
    id, name, description, status, metadata, created_at, updated_at
)
SELECT
    id, name, description, status, metadata, created_at, updated_at
FROM orchestrator_agents;
DROP TABLE orchestrator_agents;
ALTER TABLE new_orchestrator_agents RENAME TO orchestrator_agents;
CREATE TRIGGER trg_orchestrator_agents_updated_at
AFTER UPDATE ON orchestrator_agents FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE orchestrator_agents SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE id = NEW.id;
END;

CREATE TABLE new_agents (
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
INSERT INTO new_agents (
    id, orchestrator_agent_id, session_id, name, model, status, created_at, started_at,
    completed_at
)
SELECT
    id, orchestrator_agent_id, session_id, name, model, status, created_at, started_at,
    completed_at
FROM agents;
DROP TABLE agents;
ALTER TABLE new_agents RENAME TO agents;
CREATE INDEX idx_agents_orchestrator_agent_id ON agents (orchestrator_agent_id);
CREATE INDEX idx_agents_status ON agents (status);

CREATE TABLE new_prompts (
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
INSERT INTO new_prompts (
    id, agent_id, content, response, status, tokens_input, tokens_output, cost_usd, created_at,
    completed_at
)
SELECT
    id, agent_id, content, response, status, tokens_input, tokens_output, cost_usd, created_at,
    completed_at
FROM prompts;
DROP TABLE prompts;
ALTER TABLE new_prompts RENAME TO prompts;
CREATE INDEX idx_prompts_agent_id ON prompts (agent_id);

CREATE TABLE new_agent_logs (
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
INSERT INTO new_agent_logs (
    id, agent_id, log_type, message, metadata, created_at
)
SELECT
    id, agent_id, log_type, message, metadata, created_at
FROM agent_logs;
DROP TABLE agent_logs;
ALTER TABLE new_agent_logs RENAME TO agent_logs;
CREATE INDEX idx_agent_logs_agent_id ON agent_logs (agent_id);

CREATE TABLE new_system_logs (
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
INSERT INTO new_system_logs (
    id, log_level, message, source, metadata, created_at
)
SELECT
    id, log_level, message, source, metadata, created_at
FROM system_logs;
DROP TABLE system_logs;
ALTER TABLE new_system_logs RENAME TO system_logs;
CREATE INDEX idx_system_logs_log_level ON system_logs (log_level);

CREATE TABLE new_orchestrator_chat (
    id TEXT NOT NULL PRIMARY KEY,
    orchestrator_agent_id TEXT NOT NULL
        REFERENCES orchestrator_agents (id) ON DELETE CASCADE,
    sender_type TEXT NOT NULL CHECK (sender_type IN ('user', 'orchestrator', 'agent')),
    receiver_type TEXT NOT NULL CHECK (receiver_type IN ('user', 'orchestrator', 'agent')),
    message TEXT NOT NULL,
    summary TEXT,
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
INSERT INTO new_orchestrator_chat (
    id, orchestrator_agent_id, sender_type, receiver_type, message, summary, agent_id, metadata,
    created_at, updated_at
)
SELECT
    id, orchestrator_agent_id, sender_type, receiver_type, message, summary, agent_id, metadata,
    created_at, updated_at
FROM orchestrator_chat;
DROP TABLE orchestrator_chat;
ALTER TABLE new_orchestrator_chat RENAME TO orchestrator_chat;
CREATE INDEX idx_orchestrator_chat_orchestrator_agent_id
    ON orchestrator_chat (orchestrator_agent_id);
CREATE INDEX idx_orchestrator_chat_agent_id ON orchestrator_chat (agent_id);
CREATE TRIGGER trg_orchestrator_chat_updated_at
AFTER UPDATE ON orchestrator_chat FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE orchestrator_chat SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE id = NEW.id;
END;

CREATE TABLE new_ai_developer_workflows (
    id TEXT NOT NULL PRIMARY KEY,
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
INSERT INTO new_ai_developer_workflows (
    id, orchestrator_agent_id, adw_name, workflow_type, description, status, current_step,
    total_steps, completed_steps, started_at, completed_at, duration_seconds, input_data,
    output_data, error_message, error_step, error_count, metadata, created_at, updated_at
)
SELECT
    id, orchestrator_agent_id, adw_name, workflow_type, description, status, current_step,
    total_steps, completed_steps, started_at, completed_at, duration_seconds, input_data,
    output_data, error_message, error_step, error_count, metadata, created_at, updated_at
FROM ai_developer_workflows;
DROP TABLE ai_developer_workflows;
ALTER TABLE new_ai_developer_workflows RENAME TO ai_developer_workflows;
CREATE INDEX idx_ai_developer_workflows_orchestrator_agent_id
    ON ai_developer_workflows (orchestrator_agent_id);
CREATE INDEX idx_ai_developer_workflows_status ON ai_developer_workflows (status);
CREATE TRIGGER trg_ai_developer_workflows_updated_at
AFTER UPDATE ON ai_developer_workflows FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE ai_developer_workflows SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE id = NEW.id;
END;

PRAGMA user_version = 3;
