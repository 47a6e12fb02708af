-- 0003: budgets, alert rules, alert history and webhook deliveries.

-- A budget belongs to a project or a hub: exactly one of project and hub is
-- set, and deleting it deletes its budgets. thresholds and webhooks are JSON
-- arrays. id never changes, so firings survive updates; a budget deleted and
-- made again gets a new id and is armed afresh.
CREATE TABLE budgets (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	project    TEXT    REFERENCES projects (name) ON DELETE CASCADE,
	hub        TEXT    REFERENCES hubs (name) ON DELETE CASCADE,
	name       TEXT    NOT NULL,
	amount     REAL    NOT NULL CHECK (amount > 0),
	thresholds TEXT    NOT NULL DEFAULT '[]',
	hard       INTEGER NOT NULL DEFAULT 0 CHECK (hard IN (0, 1)),
	webhooks   TEXT    NOT NULL DEFAULT '[]',
	created_at TEXT    NOT NULL,
	updated_at TEXT    NOT NULL,
	CHECK ((project IS NULL) <> (hub IS NULL))
) STRICT;

CREATE UNIQUE INDEX budgets_project_name ON budgets (project, name) WHERE project IS NOT NULL;
CREATE UNIQUE INDEX budgets_hub_name ON budgets (hub, name) WHERE hub IS NOT NULL;

-- One row per threshold a budget passed in a period (YYYY-MM, UTC). The
-- primary key is what makes a threshold fire exactly once per month, across
-- restarts and concurrent evaluators.
CREATE TABLE budget_firings (
	budget_id INTEGER NOT NULL REFERENCES budgets (id) ON DELETE CASCADE,
	period    TEXT    NOT NULL,
	threshold REAL    NOT NULL,
	spend     REAL    NOT NULL,
	fired_at  TEXT    NOT NULL,
	PRIMARY KEY (budget_id, period, threshold)
) STRICT;

-- Alert rules, owned like budgets, with their state. Durations are
-- nanoseconds.
CREATE TABLE alert_rules (
	id          INTEGER PRIMARY KEY AUTOINCREMENT,
	project     TEXT    REFERENCES projects (name) ON DELETE CASCADE,
	hub         TEXT    REFERENCES hubs (name) ON DELETE CASCADE,
	name        TEXT    NOT NULL,
	deployment  TEXT    NOT NULL DEFAULT '',
	metric      TEXT    NOT NULL,
	comparator  TEXT    NOT NULL CHECK (comparator IN ('>', '<')),
	threshold   REAL    NOT NULL,
	window_ns   INTEGER NOT NULL CHECK (window_ns > 0),
	cooldown_ns INTEGER NOT NULL DEFAULT 0 CHECK (cooldown_ns >= 0),
	webhooks    TEXT    NOT NULL DEFAULT '[]',
	state       TEXT    NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'firing', 'resolved')),
	state_since TEXT    NOT NULL,
	last_fired  TEXT    NOT NULL DEFAULT '',
	last_value  REAL    NOT NULL DEFAULT 0,
	created_at  TEXT    NOT NULL,
	updated_at  TEXT    NOT NULL,
	CHECK ((project IS NULL) <> (hub IS NULL))
) STRICT;

CREATE UNIQUE INDEX alert_rules_project_name ON alert_rules (project, name) WHERE project IS NOT NULL;
CREATE UNIQUE INDEX alert_rules_hub_name ON alert_rules (hub, name) WHERE hub IS NOT NULL;

-- The alert history. No foreign keys: history outlives what it names.
-- at_ns is Unix nanoseconds.
CREATE TABLE alert_events (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	scope      TEXT    NOT NULL,
	owner      TEXT    NOT NULL,
	type       TEXT    NOT NULL,
	name       TEXT    NOT NULL,
	deployment TEXT    NOT NULL DEFAULT '',
	metric     TEXT    NOT NULL DEFAULT '',
	value      REAL    NOT NULL DEFAULT 0,
	threshold  REAL    NOT NULL DEFAULT 0,
	period     TEXT    NOT NULL DEFAULT '',
	message    TEXT    NOT NULL DEFAULT '',
	at_ns      INTEGER NOT NULL
) STRICT;

CREATE INDEX alert_events_owner ON alert_events (scope, owner, id);

-- Webhook deliveries: one row per (event, webhook), with the payload as
-- sent and the outcome of the last attempt. Pending rows are retried at
-- next_at_ns, also after a restart.
CREATE TABLE webhook_deliveries (
	id            INTEGER PRIMARY KEY AUTOINCREMENT,
	event_id      INTEGER NOT NULL,
	scope         TEXT    NOT NULL,
	owner         TEXT    NOT NULL,
	url           TEXT    NOT NULL,
	secret        TEXT    NOT NULL DEFAULT '',
	type          TEXT    NOT NULL,
	body          BLOB    NOT NULL,
	state         TEXT    NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
	attempts      INTEGER NOT NULL DEFAULT 0,
	status_code   INTEGER NOT NULL DEFAULT 0,
	error         TEXT    NOT NULL DEFAULT '',
	next_at_ns    INTEGER NOT NULL,
	created_at_ns INTEGER NOT NULL,
	updated_at_ns INTEGER NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_at_ns);
CREATE INDEX webhook_deliveries_owner ON webhook_deliveries (scope, owner, id);
