-- 0004: request-log capture settings and captured request logs.

-- One row per deployment whose capture was ever set; none means capture off.
-- Deleting the deployment (or its project) deletes its setting, so that a
-- new deployment of the same name never inherits capture.
CREATE TABLE log_capture (
	project        TEXT    NOT NULL,
	deployment     TEXT    NOT NULL,
	enabled        INTEGER NOT NULL CHECK (enabled IN (0, 1)),
	retention_days INTEGER NOT NULL CHECK (retention_days BETWEEN 1 AND 3650),
	updated_at     TEXT    NOT NULL,
	PRIMARY KEY (project, deployment),
	FOREIGN KEY (project, deployment) REFERENCES deployments (project, name) ON DELETE CASCADE
) STRICT;

-- Captured requests. No foreign key: logs outlive their deployment until the
-- retention worker prunes them, and an asynchronous batch must not fail
-- because a project was deleted meanwhile. time is Unix nanoseconds (UTC),
-- not RFC 3339 text, so that range deletes and scans compare numbers;
-- id is the cursor of listings (AUTOINCREMENT: never reused).
CREATE TABLE request_logs (
	id                INTEGER PRIMARY KEY AUTOINCREMENT,
	request_id        TEXT    NOT NULL,
	time              INTEGER NOT NULL,
	project           TEXT    NOT NULL,
	deployment        TEXT    NOT NULL,
	model             TEXT    NOT NULL DEFAULT '',
	operation         TEXT    NOT NULL DEFAULT '',
	stream            INTEGER NOT NULL DEFAULT 0,
	status            INTEGER NOT NULL,
	error_code        TEXT    NOT NULL DEFAULT '',
	prompt_tokens     INTEGER NOT NULL DEFAULT 0,
	completion_tokens INTEGER NOT NULL DEFAULT 0,
	latency_ns        INTEGER NOT NULL DEFAULT 0,
	request_body      TEXT    NOT NULL DEFAULT '',
	response_body     TEXT    NOT NULL DEFAULT ''
) STRICT;

CREATE INDEX request_logs_project ON request_logs (project, id);
CREATE INDEX request_logs_deployment ON request_logs (project, deployment, id);
CREATE INDEX request_logs_time ON request_logs (time);
