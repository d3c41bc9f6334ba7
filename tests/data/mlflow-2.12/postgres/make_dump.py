# Writes the PostgreSQL fixture with the official MLflow 2.12.2 (never run by
# the tests): python make_dump.py <postgresql URI of an empty database>, then
#   pg_dump --inserts --no-owner --no-privileges <URI> > mlflow.sql
# MLflow creates the schema itself (alembic acf3f17fdcc7) and writes the rows.
import sys
import mlflow

mlflow.set_tracking_uri(sys.argv[1])
c = mlflow.MlflowClient()
e1 = c.create_experiment("pg-fixture", artifact_location="/srv/fixture/pg/1",
                         tags={"team": "tracking", "note": "multi\nline"})
r1 = c.create_run(e1, run_name="first", start_time=1700000000000)
rid = r1.info.run_id
c.log_param(rid, "lr", "0.01")
c.log_param(rid, "unicode ключ", "значение ✓")
for step, v in enumerate([0.9, 0.7, 0.5]):
    c.log_metric(rid, "loss", v, timestamp=1700000001000 + step, step=step)
c.log_metric(rid, "odd", float("nan"), timestamp=1700000002000, step=0)
c.log_metric(rid, "big", float("inf"), timestamp=1700000002000, step=0)
c.log_metric(rid, "neg", -1.5, timestamp=1700000002000, step=-3)
c.set_tag(rid, "k", "v")
c.set_terminated(rid, "FINISHED", end_time=1700000003000)
r2 = c.create_run(e1, run_name="gone", start_time=1700000004000)
c.delete_run(r2.info.run_id)
e2 = c.create_experiment("pg-deleted")
c.delete_experiment(e2)
print(e1, rid, r2.info.run_id, e2)
