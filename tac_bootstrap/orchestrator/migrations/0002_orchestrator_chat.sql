-- Migration 0002: the chat table takes the name the orchestrator application uses,
-- orchestrator_chat (was orchestrator_chats); its indexes and trigger follow. Rows are kept.
ALTER TABLE orchestrator_chats RENAME TO orchestrator_chat;

DROP INDEX idx_orchestrator_chats_orchestrator_agent_id;
DROP INDEX idx_orchestrator_chats_agent_id;
CREATE INDEX idx_orchestrator_chat_orchestrator_agent_id
    ON orchestrator_chat (orchestrator_agent_id);
CREATE INDEX idx_orchestrator_chat_agent_id ON orchestrator_chat (agent_id);

DROP TRIGGER trg_orchestrator_chats_updated_at;
CREATE TRIGGER trg_orchestrator_chat_updated_at
AFTER UPDATE ON orchestrator_chat FOR EACH ROW WHEN NEW.updated_at IS OLD.updated_at
BEGIN
    UPDATE orchestrator_chat SET updated_at = strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now')
    WHERE id = NEW.id;
END;

PRAGMA user_version = 2;
