#!/usr/bin/env bash
# Install/start both single-node test clusters (SLURM and SGE) and self-check them.
# Runs both even if the first fails; exits non-zero if either failed.
set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
rc=0
bash "$here/start-slurm.sh" || { echo "[start-all] start-slurm.sh FAILED" >&2; rc=1; }
bash "$here/start-sge.sh"   || { echo "[start-all] start-sge.sh FAILED" >&2; rc=1; }
[ $rc -eq 0 ] && echo "[start-all] SLURM and SGE are up"
exit $rc
