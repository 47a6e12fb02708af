-- 0001: hubs, projects, keys, models, deployments, settings.
-- Times are UTC RFC 3339 text with nanoseconds. Tables are STRICT so that a
-- value of the wrong type is refused rather than silently stored.

CREATE TABLE hubs (
	name        TEXT NOT NULL PRIMARY KEY,
	description TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL
) STRICT;

-- One row per (model, sku) limit; pos keeps the order the hub was given.
CREATE TABLE hub_quotas (
	hub         TEXT    NOT NULL REFERENCES hubs (name) ON DELETE CASCADE,
	model       TEXT    NOT NULL,
	sku         TEXT    NOT NULL,
	quota_limit INTEGER NOT NULL CHECK (quota_limit >= 0),
	pos         INTEGER NOT NULL,
	PRIMARY KEY (hub, model, sku)
) STRICT;

CREATE TABLE projects (
	name        TEXT NOT NULL PRIMARY KEY,
	hub         TEXT NOT NULL REFERENCES hubs (name) ON DELETE RESTRICT,
	region      TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	created_at  TEXT NOT NULL
) STRICT;

CREATE INDEX projects_hub ON projects (hub);

CREATE TABLE api_keys (
	project    TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
	slot       INTEGER NOT NULL CHECK (slot IN (1, 2)),
	hash       BLOB    NOT NULL UNIQUE CHECK (length(hash) = 32),
	sealed     BLOB    NOT NULL,
	created_at TEXT    NOT NULL,
	PRIMARY KEY (project, slot)
) STRICT;

-- versions is the JSON array of catalog.Version.
CREATE TABLE models (
	name            TEXT NOT NULL PRIMARY KEY,
	description     TEXT NOT NULL DEFAULT '',
	default_version TEXT NOT NULL DEFAULT '',
	versions        TEXT NOT NULL DEFAULT '[]',
	created_at      TEXT NOT NULL,
	updated_at      TEXT NOT NULL
) STRICT;

CREATE TABLE deployments (
	project                TEXT    NOT NULL REFERENCES projects (name) ON DELETE CASCADE,
	name                   TEXT    NOT NULL,
	model                  TEXT    NOT NULL REFERENCES models (name) ON DELETE RESTRICT,
	version                TEXT    NOT NULL DEFAULT '',
	sku                    TEXT    NOT NULL,
	capacity               INTEGER NOT NULL CHECK (capacity >= 0),
	version_upgrade_option TEXT    NOT NULL DEFAULT '',
	rai_policy             TEXT    NOT NULL DEFAULT '',
	state                  TEXT    NOT NULL DEFAULT '',
	reason                 TEXT    NOT NULL DEFAULT '',
	created_at             TEXT    NOT NULL,
	updated_at             TEXT    NOT NULL,
	PRIMARY KEY (project, name)
) STRICT;

CREATE INDEX deployments_model_sku ON deployments (model, sku);

CREATE TABLE settings (
	key   TEXT NOT NULL PRIMARY KEY,
	value TEXT NOT NULL
) STRICT;
