#!/usr/bin/env bash
# Stop the test clusters started by start-slurm.sh / start-sge.sh (best effort).
# Only daemons recorded in their pid files are signalled. Always exits 0.
set -u
log() { echo "[stop-all] $*"; }

kill_pidfile() { # pidfile expected-comm
    local f=$1 comm=$2 pid
    [ -s "$f" ] || return 0
    pid=$(cat "$f" 2>/dev/null) || return 0
    [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$comm" ] || { rm -f "$f"; return 0; }
    log "stopping $comm (pid $pid)"
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || { rm -f "$f"; return 0; }; sleep 0.25; done
    log "$comm (pid $pid) did not exit, sending SIGKILL"
    kill -9 "$pid" 2>/dev/null || true
    rm -f "$f"
}

# ---- SGE
if command -v qconf >/dev/null 2>&1; then
    export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
    qconf -ke "$(hostname -s)" >/dev/null 2>&1 || true   # execd
    qconf -km >/dev/null 2>&1 || true                    # qmaster
    sleep 1
fi
for f in /var/spool/gridengine/execd/*/execd.pid; do kill_pidfile "$f" sge_execd; done
kill_pidfile /var/spool/gridengine/qmaster/qmaster.pid sge_qmaster

# ---- SLURM
kill_pidfile /run/slurmd.pid slurmd
kill_pidfile /run/slurmctld.pid slurmctld
kill_pidfile /run/munge/munged.pid munged
log "done"
exit 0
