-- 003_seed.sql: the built-in administrative agent. Its id is generated per database;
-- operators read it with `SELECT id FROM agent WHERE name = 'system'`.

INSERT INTO agent (name, scopes)
VALUES ('system', ARRAY['admin', 'tasks:read', 'tasks:write', 'agents:read'])
ON CONFLICT (name) DO NOTHING;
