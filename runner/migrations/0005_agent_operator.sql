-- Honest quorum: who runs an agent. `operator` is the SHA-256 (hex) of the registration
-- token the agent registered with, so agents sharing a token count once towards a
-- quorum; NULL for agents registered before it was kept (they count by key alone).
-- Re-registering a key reuses its row, so the key is looked up, hence the index.

ALTER TABLE swarm_agents ADD COLUMN operator TEXT;

CREATE INDEX swarm_agents_public_key ON swarm_agents (public_key);
