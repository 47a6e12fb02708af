-- 0005: managed compute. A ManagedCompute deployment names the instance
-- type of its replicas and may scale to zero; each hub has a compute
-- catalog of instance types, the first (lowest pos) being the default.

ALTER TABLE deployments ADD COLUMN instance_type TEXT NOT NULL DEFAULT '';
ALTER TABLE deployments ADD COLUMN scale_to_zero INTEGER NOT NULL DEFAULT 0 CHECK (scale_to_zero IN (0, 1));

CREATE TABLE instance_types (
	hub            TEXT    NOT NULL REFERENCES hubs (name) ON DELETE CASCADE,
	name           TEXT    NOT NULL,
	threads        INTEGER NOT NULL CHECK (threads >= 1),
	memory_mb      INTEGER NOT NULL CHECK (memory_mb >= 1),
	price_per_hour REAL    NOT NULL CHECK (price_per_hour >= 0),
	pos            INTEGER NOT NULL,
	PRIMARY KEY (hub, name)
) STRICT;

-- Every hub, existing or new, starts with hub.DefaultInstanceTypes.
INSERT INTO instance_types (hub, name, threads, memory_mb, price_per_hour, pos)
	SELECT name, 'cpu-2', 2, 4096, 0.10, 0 FROM hubs;
INSERT INTO instance_types (hub, name, threads, memory_mb, price_per_hour, pos)
	SELECT name, 'cpu-4', 4, 8192, 0.20, 1 FROM hubs;

CREATE TRIGGER hubs_default_instance_types AFTER INSERT ON hubs
BEGIN
	INSERT INTO instance_types (hub, name, threads, memory_mb, price_per_hour, pos) VALUES
		(NEW.name, 'cpu-2', 2, 4096, 0.10, 0),
		(NEW.name, 'cpu-4', 4, 8192, 0.20, 1);
END;
