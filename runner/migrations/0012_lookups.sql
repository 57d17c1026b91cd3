-- The lookups on the hot path of every job, by index instead of by reading the table:
-- heartbeats, releases and results find a job by its current lease; deciding a job asks
-- whether its run still has open jobs, which reads only the run's open jobs; a claim
-- steps over the jobs its agent has answered, found among that agent's results.

CREATE INDEX swarm_jobs_by_lease ON swarm_jobs (lease_id);
CREATE INDEX swarm_jobs_open_by_run ON swarm_jobs (run_id, state);
CREATE INDEX swarm_results_by_agent ON swarm_results (agent_id, job_id);
