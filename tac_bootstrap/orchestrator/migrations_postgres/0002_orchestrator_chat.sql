-- Migration 0002: the chat table takes the name the orchestrator application uses,
-- orchestrator_chat (was orchestrator_chats); its constraints, indexes and trigger follow, so
-- that they carry the names a new database gives them. Rows are kept.
ALTER TABLE orchestrator_chats RENAME TO orchestrator_chat;

ALTER TABLE orchestrator_chat RENAME CONSTRAINT orchestrator_chats_pkey TO orchestrator_chat_pkey;
ALTER TABLE orchestrator_chat
    RENAME CONSTRAINT orchestrator_chats_orchestrator_agent_id_fkey
    TO orchestrator_chat_orchestrator_agent_id_fkey;
ALTER TABLE orchestrator_chat
    RENAME CONSTRAINT orchestrator_chats_sender_type_check TO orchestrator_chat_sender_type_check;
ALTER TABLE orchestrator_chat
    RENAME CONSTRAINT orchestrator_chats_receiver_type_check
    TO orchestrator_chat_receiver_type_check;
ALTER TABLE orchestrator_chat
    RENAME CONSTRAINT orchestrator_chats_agent_id_fkey TO orchestrator_chat_agent_id_fkey;
ALTER TABLE orchestrator_chat
    RENAME CONSTRAINT orchestrator_chats_metadata_check TO orchestrator_chat_metadata_check;

ALTER INDEX idx_orchestrator_chats_orchestrator_agent_id
    RENAME TO idx_orchestrator_chat_orchestrator_agent_id;
ALTER INDEX idx_orchestrator_chats_agent_id RENAME TO idx_orchestrator_chat_agent_id;

ALTER TRIGGER trg_orchestrator_chats_updated_at ON orchestrator_chat
    RENAME TO trg_orchestrator_chat_updated_at;
