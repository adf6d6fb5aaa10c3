"""The orchestrator persistence layer: Pydantic models, the SQLite schema, an async database.

``orch_database_models`` holds one model per table, ``schema_orchestrator.sql`` the schema and
``database`` the aiosqlite access layer. The same three files are what
``tac-bootstrap init --with-orchestrator`` writes into a generated project's package.
"""
