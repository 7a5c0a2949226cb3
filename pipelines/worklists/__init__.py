"""Follow-up worklists (contract section 8): `yiyu worklists` writes, for the latest period, one
XLSX per recipient from `worklist.follow_up_rows` with the handles decrypted, owner-only, and
logs each file in `meta.worklist_exports`. No Dagster job decrypts: only the command, run by a
person holding the private key, imports `command.py`."""
