-- cove's store. One migration set for SQLite and PostgreSQL: only types and syntax both
-- accept (BIGINT, INTEGER, TEXT, PRIMARY KEY, CHECK). Every table is prefixed `cove_`.

-- The one state row: the generation (one more per committed change) and the generation
-- last applied to the kernel. Writers lock this row, so generations are gapless.
CREATE TABLE cove_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    generation BIGINT NOT NULL CHECK (generation >= 0),
    applied BIGINT NOT NULL CHECK (applied >= 0 AND applied <= generation)
);
INSERT INTO cove_state (id, generation, applied) VALUES (1, 0, 0);

-- Desired-state documents. tenant '' = operator-wide (the API never accepts an empty
-- tenant id). body is JSON text.
CREATE TABLE cove_documents (
    kind TEXT NOT NULL CHECK (kind <> ''),
    tenant TEXT NOT NULL,
    key TEXT NOT NULL CHECK (key <> ''),
    body TEXT NOT NULL,
    generation BIGINT NOT NULL CHECK (generation > 0),
    PRIMARY KEY (kind, tenant, key)
);
CREATE INDEX cove_documents_by_tenant ON cove_documents (tenant, kind);

-- One row per committed change, written in the change's transaction.
CREATE TABLE cove_audit (
    generation_after BIGINT PRIMARY KEY,
    generation_before BIGINT NOT NULL,
    tenant TEXT,
    token_id TEXT,
    request_id TEXT,
    summary TEXT NOT NULL,
    at_ms BIGINT NOT NULL,
    CHECK (generation_after = generation_before + 1)
);

-- Leader leases, timed by the database's clock. token grows with every new tenure.
CREATE TABLE cove_leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    token BIGINT NOT NULL,
    acquired_ms BIGINT NOT NULL,
    expires_ms BIGINT NOT NULL
);

-- Idempotency-Key records: status and response are NULL while the first request runs.
CREATE TABLE cove_idempotency (
    tenant TEXT NOT NULL,
    key TEXT NOT NULL,
    request_hash TEXT NOT NULL,
    status INTEGER,
    response TEXT,
    created_ms BIGINT NOT NULL,
    PRIMARY KEY (tenant, key)
);
CREATE INDEX cove_idempotency_by_age ON cove_idempotency (created_ms);
