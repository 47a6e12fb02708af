-- 0002: the usage ledger, capacity accruals and the hubs' price sheets.
-- Usage times are integers (Unix nanoseconds, minutes as Unix seconds) so
-- that range queries compare numbers, not text.

-- One row per request. id is the request id, or the request id plus '~'
-- and the fingerprint when two different requests share a request id.
-- fingerprint is a digest of the record's content: a write of the same
-- record again is recognised and skipped. No foreign keys: usage outlives
-- the projects and deployments it names.
CREATE TABLE usage_records (
	id                TEXT    NOT NULL PRIMARY KEY,
	request_id        TEXT    NOT NULL,
	fingerprint       TEXT    NOT NULL,
	at_ns             INTEGER NOT NULL,
	hub               TEXT    NOT NULL DEFAULT '',
	project           TEXT    NOT NULL,
	key_id            TEXT    NOT NULL DEFAULT '',
	deployment        TEXT    NOT NULL,
	model             TEXT    NOT NULL DEFAULT '',
	version           TEXT    NOT NULL DEFAULT '',
	sku               TEXT    NOT NULL DEFAULT '',
	operation         TEXT    NOT NULL DEFAULT '',
	prompt_tokens     INTEGER NOT NULL DEFAULT 0,
	completion_tokens INTEGER NOT NULL DEFAULT 0,
	cached_tokens     INTEGER NOT NULL DEFAULT 0,
	latency_ms        INTEGER NOT NULL DEFAULT 0,
	ttft_ms           INTEGER NOT NULL DEFAULT 0,
	status            INTEGER NOT NULL DEFAULT 0,
	stream            INTEGER NOT NULL DEFAULT 0
) STRICT;

CREATE INDEX usage_records_project_at ON usage_records (project, at_ns);
CREATE INDEX usage_records_hub_at ON usage_records (hub, at_ns);
CREATE INDEX usage_records_request ON usage_records (request_id);

-- Capacity held by a deployment during one minute (minute: Unix seconds of
-- its start), in capacity-minutes.
CREATE TABLE usage_accruals (
	project         TEXT    NOT NULL,
	deployment      TEXT    NOT NULL,
	minute          INTEGER NOT NULL,
	hub             TEXT    NOT NULL DEFAULT '',
	model           TEXT    NOT NULL DEFAULT '',
	version         TEXT    NOT NULL DEFAULT '',
	sku             TEXT    NOT NULL DEFAULT '',
	instance_type   TEXT    NOT NULL DEFAULT '',
	ptu_minutes     INTEGER NOT NULL DEFAULT 0,
	replica_minutes INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (project, deployment, minute)
) STRICT;

CREATE INDEX usage_accruals_hub_minute ON usage_accruals (hub, minute);
CREATE INDEX usage_accruals_project_minute ON usage_accruals (project, minute);

-- A hub's price of a model ('' version: every version); pos keeps order.
CREATE TABLE hub_model_prices (
	hub                 TEXT    NOT NULL REFERENCES hubs (name) ON DELETE CASCADE,
	model               TEXT    NOT NULL,
	version             TEXT    NOT NULL DEFAULT '',
	input_per_1k        REAL    NOT NULL DEFAULT 0,
	output_per_1k       REAL    NOT NULL DEFAULT 0,
	cached_input_per_1k REAL    NOT NULL DEFAULT 0,
	ptu_hour            REAL    NOT NULL DEFAULT 0,
	pos                 INTEGER NOT NULL,
	PRIMARY KEY (hub, model, version)
) STRICT;

-- A hub's price of one replica-hour of an instance type.
CREATE TABLE hub_instance_prices (
	hub      TEXT    NOT NULL REFERENCES hubs (name) ON DELETE CASCADE,
	name     TEXT    NOT NULL,
	per_hour REAL    NOT NULL DEFAULT 0,
	pos      INTEGER NOT NULL,
	PRIMARY KEY (hub, name)
) STRICT;
