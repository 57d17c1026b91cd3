-- The tail of each service's output for a job that did not pass (a JSON object:
-- service name -> text), shown on the job's page; NULL for jobs stored before.

ALTER TABLE jobs ADD COLUMN service_logs TEXT;
