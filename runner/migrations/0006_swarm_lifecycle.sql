-- A job's life beyond leases: cancelled runs, jobs no live agent can take, and agents
-- seen recently.
--
-- `swarm_agents.last_seen`: when the agent last called the coordinator (ms since
-- 1970), so "live agents" is one comparison. NULL until its first call after this
-- migration.
-- `swarm_jobs.stuck_since` / `stuck_reason`: since when no live agent could take the
-- queued job, and why ("no agent offers python 3.9; 2 agents online"); NULL while some
-- agent can. After the coordinator's `unschedulable_after` the job ends `unschedulable`.
--
-- One key is one agent: a key registered twice before 0005 left two rows. The older
-- row (the one registration now keeps) takes over the newer rows' leases, jobs and
-- results, the newer rows go, and a unique index makes it so from now on.

ALTER TABLE swarm_agents ADD COLUMN last_seen BIGINT;
ALTER TABLE swarm_jobs ADD COLUMN stuck_since BIGINT;
ALTER TABLE swarm_jobs ADD COLUMN stuck_reason TEXT;

UPDATE swarm_results SET agent_id = (
    SELECT k.id FROM swarm_agents a JOIN swarm_agents k ON k.public_key = a.public_key
    WHERE a.id = swarm_results.agent_id ORDER BY k.registered, k.id LIMIT 1)
WHERE agent_id IN (SELECT id FROM swarm_agents);

UPDATE swarm_leases SET agent_id = (
    SELECT k.id FROM swarm_agents a JOIN swarm_agents k ON k.public_key = a.public_key
    WHERE a.id = swarm_leases.agent_id ORDER BY k.registered, k.id LIMIT 1)
WHERE agent_id IN (SELECT id FROM swarm_agents);

UPDATE swarm_jobs SET agent_id = (
    SELECT k.id FROM swarm_agents a JOIN swarm_agents k ON k.public_key = a.public_key
    WHERE a.id = swarm_jobs.agent_id ORDER BY k.registered, k.id LIMIT 1)
WHERE agent_id IN (SELECT id FROM swarm_agents);

DELETE FROM swarm_agents WHERE EXISTS (
    SELECT 1 FROM swarm_agents k WHERE k.public_key = swarm_agents.public_key
    AND (k.registered < swarm_agents.registered
         OR (k.registered = swarm_agents.registered AND k.id < swarm_agents.id)));

DROP INDEX swarm_agents_public_key;
CREATE UNIQUE INDEX swarm_agents_public_key ON swarm_agents (public_key);
