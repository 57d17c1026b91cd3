-- Claims at scale: a claim probes for an expired lease before a queued job, so leased
-- jobs are found by when their lease expires instead of read one by one. Queued jobs
-- are already found in queue order by swarm_jobs_queue (state, run_seq, position).

CREATE INDEX swarm_jobs_lease_expiry ON swarm_jobs (state, lease_expires);
