-- Clients' public status pages: whether the page is published, the sites it
-- shows in order (JSON array of site ids; ids of deleted sites are skipped
-- when read), its accent colour and its logo image.
ALTER TABLE clients ADD COLUMN status_page_enabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE clients ADD COLUMN status_page_site_ids TEXT;
ALTER TABLE clients ADD COLUMN status_page_accent_color TEXT;
ALTER TABLE clients ADD COLUMN status_page_logo BLOB;
