-- Per-site uptime check settings: 0 and NULL mean the fleet's defaults
-- (the probe interval, status 200, no keyword).
ALTER TABLE sites ADD COLUMN check_interval_seconds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN check_expected_status INTEGER NOT NULL DEFAULT 0;
ALTER TABLE sites ADD COLUMN check_keyword TEXT;
