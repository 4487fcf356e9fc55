#!/usr/bin/env bash
# Install (if needed) and start a real single-node Son of Grid Engine 8.1.9
# (Debian packages gridengine-*) on this machine, configure a queue "all.q"
# with parallel environments "smp" and "make", then run a self-check
# (one plain job + one 2-task array job, and qacct must report both).
#
# Idempotent: safe to run any number of times.  Must run as root, non-interactive.
# No systemd needed: sge_qmaster / sge_execd are started directly (they daemonize).
#
# Env knobs (optional):
#   FEMO_CLUSTER_CHECK_TIMEOUT  seconds to wait for the self-check jobs (default 120)
#   FEMO_SGE_SKIP_CHECK=1       skip the self-check
set -euo pipefail

log() { echo "[start-sge] $*"; }
die() { echo "[start-sge] ERROR: $*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "must run as root"
T0=$(date +%s)
CHECK_TIMEOUT=${FEMO_CLUSTER_CHECK_TIMEOUT:-120}

export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=default
HOST=$(hostname -s)
NCPU=$(nproc)
COMMON=$SGE_ROOT/$SGE_CELL/common
SPOOLDB=/var/spool/gridengine/spooldb
QMASTER_SPOOL=/var/spool/gridengine/qmaster
EXECD_SPOOL=/var/spool/gridengine/execd
QMASTER_PID=$QMASTER_SPOOL/qmaster.pid

pid_alive() { # pidfile [expected-comm]
    local f=$1 pid
    [ -s "$f" ] || return 1
    pid=$(cat "$f" 2>/dev/null) || return 1
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
    if [ $# -ge 2 ]; then
        [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$2" ] || return 1
    fi
}

# both schedulers need the short host name to resolve
if ! getent hosts "$HOST" >/dev/null 2>&1; then
    log "host name $HOST does not resolve: adding it to /etc/hosts"
    printf '127.0.1.1\t%s\n' "$HOST" >> /etc/hosts
fi

# ---------------------------------------------------------------- install ---
need_pkgs=()
for p in gridengine-common gridengine-client gridengine-master gridengine-exec; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || need_pkgs+=("$p")
done
if [ ${#need_pkgs[@]} -gt 0 ]; then
    log "installing ${need_pkgs[*]}"
    # gridengineconfig=false: we initialise the cluster ourselves below (init_cluster).
    debconf-set-selections <<EOF
gridengine-common shared/gridengineconfig boolean false
gridengine-common shared/gridenginecell string default
gridengine-common shared/gridenginemaster string ${HOST}
gridengine-master shared/gridengineconfig boolean false
gridengine-master shared/gridenginecell string default
gridengine-master shared/gridenginemaster string ${HOST}
gridengine-exec shared/gridengineconfig boolean false
gridengine-exec shared/gridenginecell string default
gridengine-exec shared/gridenginemaster string ${HOST}
gridengine-client shared/gridengineconfig boolean false
gridengine-client shared/gridenginecell string default
gridengine-client shared/gridenginemaster string ${HOST}
EOF
    # Keep maintainer scripts from starting daemons (ours, and the MTA that
    # bsd-mailx pulls in as a hard dependency of gridengine-common).
    created_policy=0
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        created_policy=1
    fi
    export DEBIAN_FRONTEND=noninteractive
    rc=0
    { apt-get update -qq && apt-get install -y -qq --no-install-recommends \
        gridengine-common gridengine-client gridengine-master gridengine-exec </dev/null; } || rc=$?
    [ $created_policy -eq 1 ] && rm -f /usr/sbin/policy-rc.d
    [ $rc -eq 0 ] || die "apt-get install failed (rc=$rc)"
else
    log "packages already installed"
fi
for b in qsub qstat qacct qdel qconf qmod qhost; do
    command -v "$b" >/dev/null || die "$b not on PATH after install"
done

# ------------------------------------------------------------- cell files ---
mkdir -p "$COMMON" "$QMASTER_SPOOL/job_scripts" "$SPOOLDB" "$EXECD_SPOOL" /run/gridengine
chown sgeadmin:sgeadmin "$COMMON" "$QMASTER_SPOOL" "$QMASTER_SPOOL/job_scripts" "$SPOOLDB" "$EXECD_SPOOL" /run/gridengine
[ -e "$COMMON/bootstrap" ] || install -m 644 -o sgeadmin -g sgeadmin /usr/share/gridengine/default-bootstrap "$COMMON/bootstrap"
if [ "$(cat "$COMMON/act_qmaster" 2>/dev/null)" != "$HOST" ]; then
    echo "$HOST" > "$COMMON/act_qmaster"
    chown sgeadmin:sgeadmin "$COMMON/act_qmaster"; chmod 644 "$COMMON/act_qmaster"
fi
# Without this alias commlib reports "local host name error" when the host name
# resolves to a loopback address whose canonical name is "localhost".
if ! grep -qE "^${HOST}([[:space:]]|$)" "$COMMON/host_aliases" 2>/dev/null; then
    echo "$HOST localhost" >> "$COMMON/host_aliases"
    chown sgeadmin:sgeadmin "$COMMON/host_aliases"; chmod 644 "$COMMON/host_aliases"
fi
# environment file for interactive shells (qsub & co. are in /usr/bin and also
# work without these variables: the Debian build defaults to the same values)
cat > /etc/profile.d/femo-sge.sh <<'EOF'
# written by femo tests/cluster/start-sge.sh
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
EOF
chmod 644 /etc/profile.d/femo-sge.sh

# initialise the qmaster spool (berkeleydb) once; init_cluster skips if done
if [ ! -e "$SPOOLDB/sge" ]; then
    log "initialising cluster spool in $SPOOLDB"
    su -s /bin/sh -c "/usr/share/gridengine/scripts/init_cluster $SGE_ROOT $SGE_CELL $SPOOLDB sgeadmin" sgeadmin \
        || die "init_cluster failed"
fi

# ---------------------------------------------------------------- qmaster ---
qmaster_up() { qconf -sh >/dev/null 2>&1; }
if pid_alive "$QMASTER_PID" sge_qmaster; then
    log "sge_qmaster already running (pid $(cat $QMASTER_PID))"
else
    log "starting sge_qmaster"
    rm -f "$QMASTER_PID" "$QMASTER_SPOOL/lock"
    /usr/sbin/sge_qmaster </dev/null || die "sge_qmaster failed to start (see $QMASTER_SPOOL/messages)"
fi
for _ in $(seq 1 60); do qmaster_up && break; sleep 0.5; done
qmaster_up || { tail -20 "$QMASTER_SPOOL/messages" >&2 || true; die "sge_qmaster not responding"; }

# ----------------------------------------------------------- configuration ---
cfg=$(mktemp -d)
trap 'rm -rf "$cfg"' EXIT

qconf -sh 2>/dev/null | grep -qx "$HOST" || qconf -ah "$HOST" >/dev/null
qconf -ss 2>/dev/null | grep -qx "$HOST" || qconf -as "$HOST" >/dev/null

# Normalise a qconf dump for comparison: join "\"-continued lines, drop
# comments, squeeze blanks, sort.
norm() {
    awk '/^#/ {next} { if (sub(/\\[[:space:]]*$/, "")) { printf "%s ", $0 } else { print } }' "$1" \
        | sed -e 's/[[:space:]]\+/ /g' -e 's/^ //' -e 's/ $//' | grep -v '^$' | sort
}

# global configuration = Debian defaults, except: root's jobs allowed
# (min_uid/min_gid 0), accounting records written immediately
# (accounting_flush_time=0), load reported every 10 s, no admin mail.
cat > "$cfg/global" <<'EOF'
execd_spool_dir              /var/spool/gridengine/execd
mailer                       /usr/bin/mail
xterm                        /usr/bin/xterm
load_sensor                  none
prolog                       none
epilog                       none
shell_start_mode             posix_compliant
login_shells                 bash,sh,ksh,csh,tcsh
min_uid                      0
min_gid                      0
user_lists                   none
xuser_lists                  none
projects                     none
xprojects                    none
enforce_project              false
enforce_user                 auto
load_report_time             00:00:10
max_unheard                  00:05:00
reschedule_unknown           00:00:00
loglevel                     log_warning
administrator_mail           none
set_token_cmd                none
pag_cmd                      none
token_extend_time            none
shepherd_cmd                 none
qmaster_params               none
execd_params                 none
reporting_params             accounting=true reporting=false flush_time=00:00:15 joblog=false sharelog=00:00:00 accounting_flush_time=00:00:00
finished_jobs                100
gid_range                    65400-65500
qlogin_command               builtin
qlogin_daemon                builtin
rlogin_command               builtin
rlogin_daemon                builtin
rsh_command                  builtin
rsh_daemon                   builtin
max_aj_instances             2000
max_aj_tasks                 75000
max_u_jobs                   0
max_jobs                     0
auto_user_oticket            0
auto_user_fshare             0
auto_user_default_project    none
auto_user_delete_time        86400
delegated_file_staging       false
reprioritize                 0
jsv_url                      none
jsv_allowed_mod              ac,h,i,e,o,j,M,N,p,w
EOF
qconf -sconf global > "$cfg/global.cur" 2>/dev/null || true
if [ "$(norm "$cfg/global.cur")" != "$(norm "$cfg/global")" ]; then
    log "updating global configuration"
    # qconf -Mconf takes the configuration name from the file name: it must be "global"
    (cd "$cfg" && qconf -Mconf global) >/dev/null || die "qconf -Mconf global failed"
fi

# scheduler: schedule every second instead of every 15 s, no load adjustments
qconf -ssconf > "$cfg/sconf.orig"
sed -e 's/^\(schedule_interval[[:space:]]*\).*/\10:0:1/' \
    -e 's/^\(flush_submit_sec[[:space:]]*\).*/\11/' \
    -e 's/^\(flush_finish_sec[[:space:]]*\).*/\11/' \
    -e 's/^\(job_load_adjustments[[:space:]]*\).*/\1NONE/' \
    -e 's/^\(load_adjustment_decay_time[[:space:]]*\).*/\10:0:0/' \
    "$cfg/sconf.orig" > "$cfg/sconf"
if [ "$(norm "$cfg/sconf.orig")" != "$(norm "$cfg/sconf")" ]; then
    log "updating scheduler configuration"
    qconf -Msconf "$cfg/sconf" >/dev/null || die "qconf -Msconf failed"
fi

apply() { # show-flag name file add-flag mod-flag: add the object, or modify it if it differs
    local show=$1 name=$2 file=$3 add=$4 mod=$5 out
    if qconf "$show" "$name" > "$cfg/cur" 2>/dev/null; then
        [ "$(norm "$cfg/cur")" = "$(norm "$file")" ] && return 0
        log "updating $name"
        out=$(qconf "$mod" "$file" 2>&1) || die "qconf $mod $name failed: $out"
    else
        log "adding $name"
        out=$(qconf "$add" "$file" 2>&1) || die "qconf $add $name failed: $out"
    fi
}

# execution host entry (execd would also register itself; be explicit)
cat > "$cfg/exechost" <<EOF
hostname              $HOST
load_scaling          NONE
complex_values        NONE
user_lists            NONE
xuser_lists           NONE
projects              NONE
xprojects             NONE
usage_scaling         NONE
report_variables      NONE
EOF
qconf -se "$HOST" >/dev/null 2>&1 || { log "adding exec host $HOST"; qconf -Ae "$cfg/exechost" >/dev/null || die "qconf -Ae failed"; }

# parallel environments
for pe in smp make; do
    if [ $pe = smp ]; then rule='$pe_slots'; ctl=FALSE; first=TRUE; else rule='$round_robin'; ctl=TRUE; first=FALSE; fi
    cat > "$cfg/$pe" <<EOF
pe_name            $pe
slots              999
user_lists         NONE
xuser_lists        NONE
start_proc_args    NONE
stop_proc_args     NONE
allocation_rule    $rule
control_slaves     $ctl
job_is_first_task  $first
urgency_slots      min
accounting_summary FALSE
qsort_args         NONE
EOF
    apply -sp $pe "$cfg/$pe" -Ap -Mp
done

# host group
cat > "$cfg/allhosts" <<EOF
group_name @allhosts
hostlist $HOST
EOF
apply -shgrp @allhosts "$cfg/allhosts" -Ahgrp -Mhgrp

# queue
cat > "$cfg/all.q" <<EOF
qname                 all.q
hostlist              @allhosts
seq_no                0
load_thresholds       NONE
suspend_thresholds    NONE
nsuspend              1
suspend_interval      00:05:00
priority              0
min_cpu_interval      00:05:00
processors            UNDEFINED
qtype                 BATCH INTERACTIVE
ckpt_list             NONE
pe_list               make smp
rerun                 FALSE
slots                 $NCPU
tmpdir                /tmp
shell                 /bin/bash
prolog                NONE
epilog                NONE
shell_start_mode      unix_behavior
starter_method        NONE
suspend_method        NONE
resume_method         NONE
terminate_method      NONE
notify                00:00:60
owner_list            NONE
user_lists            NONE
xuser_lists           NONE
subordinate_list      NONE
complex_values        NONE
projects              NONE
xprojects             NONE
calendar              NONE
initial_state         default
s_rt                  INFINITY
h_rt                  INFINITY
s_cpu                 INFINITY
h_cpu                 INFINITY
s_fsize               INFINITY
h_fsize               INFINITY
s_data                INFINITY
h_data                INFINITY
s_stack               INFINITY
h_stack               INFINITY
s_core                INFINITY
h_core                INFINITY
s_rss                 INFINITY
h_rss                 INFINITY
s_vmem                INFINITY
h_vmem                INFINITY
EOF
apply -sq all.q "$cfg/all.q" -Aq -Mq

# ------------------------------------------------------------------ execd ---
# execd spools to $EXECD_SPOOL/<name the host resolves to locally>: that is
# "localhost", not $HOST, when the host name resolves to 127.0.0.1 (containers).
execd_running=""
for f in "$EXECD_SPOOL"/*/execd.pid; do
    pid_alive "$f" sge_execd && execd_running=$f && break
done
if [ -n "$execd_running" ]; then
    log "sge_execd already running (pid $(cat "$execd_running"))"
else
    log "starting sge_execd"
    rm -f "$EXECD_SPOOL"/*/execd.pid
    /usr/sbin/sge_execd </dev/null || die "sge_execd failed to start (see $EXECD_SPOOL/*/messages)"
fi

# wait until the queue instance is known (no 'u' state), clearing error states
qstate() { qstat -f -q "all.q@$HOST" 2>/dev/null | awk -v q="all.q@$HOST" '$1 == q {print (NF >= 6 ? $6 : "ok")}'; }
state=""
for _ in $(seq 1 90); do
    state=$(qstate)
    case "$state" in
        ok) break ;;
        *E*) qmod -c '*' >/dev/null 2>&1 || true ;;
        *d*) qmod -e "all.q@$HOST" >/dev/null 2>&1 || true ;;
    esac
    sleep 1
done
qmod -c '*' >/dev/null 2>&1 || true   # clear any error state left by earlier failed tasks
[ "$state" = ok ] || { qstat -f >&2 || true; tail -20 "$EXECD_SPOOL"/*/messages >&2 2>/dev/null || true
                       die "queue instance all.q@$HOST not available (state='$state')"; }
log "queue all.q@$HOST is up ($NCPU slots)"

# ------------------------------------------------------------- self-check ---
if [ "${FEMO_SGE_SKIP_CHECK:-0}" = 1 ]; then
    log "self-check skipped"; log "done in $(( $(date +%s) - T0 )) s"; exit 0
fi

chkdir=$(mktemp -d /tmp/femo-sge-check.XXXXXX)
chmod 777 "$chkdir"
jid1=$(cd "$chkdir" && qsub -terse -N femo-check -b y -cwd -j y -o "$chkdir/single.out" echo ok </dev/null) \
    || die "qsub (single job) failed"
printf '#!/bin/bash\necho "ok $SGE_TASK_ID"\n' > "$chkdir/task.sh"
jid2=$(cd "$chkdir" && qsub -terse -N femo-check-array -t 1-2 -cwd -j y -o "$chkdir/array.\$TASK_ID.out" \
    "$chkdir/task.sh" </dev/null) || die "qsub (array job) failed"
jid2=${jid2%%.*}   # "123.1-2:1" -> "123"
log "submitted self-check jobs $jid1 and $jid2 (array 1-2); waiting up to ${CHECK_TIMEOUT}s"

acct_ok() { # job-id expected-number-of-records
    [ "$(qacct -j "$1" 2>/dev/null | awk '$1 == "exit_status" && $2 == 0' | wc -l)" -eq "$2" ]
}
deadline=$(( $(date +%s) + CHECK_TIMEOUT ))
ok=0
while [ "$(date +%s)" -lt "$deadline" ]; do
    if ! qstat -u '*' 2>/dev/null | awk 'NR > 2 {print $1}' | grep -qxE "$jid1|$jid2" \
       && grep -qx ok "$chkdir/single.out" 2>/dev/null \
       && grep -qx 'ok 1' "$chkdir/array.1.out" 2>/dev/null \
       && grep -qx 'ok 2' "$chkdir/array.2.out" 2>/dev/null \
       && acct_ok "$jid1" 1 && acct_ok "$jid2" 2; then
        ok=1; break
    fi
    # a task that fails before it starts puts the queue into error state
    qmod -c '*' >/dev/null 2>&1 || true
    sleep 1
done
if [ $ok -ne 1 ]; then
    echo "---- qstat -f" >&2; qstat -u '*' -f >&2 || true
    echo "---- qstat -j" >&2; qstat -j "$jid1,$jid2" >&2 || true
    echo "---- qacct" >&2; qacct -j "$jid1" >&2 || true; qacct -j "$jid2" >&2 || true
    echo "---- outputs in $chkdir" >&2; head -v "$chkdir"/* >&2 2>/dev/null || true
    echo "---- execd messages" >&2; tail -20 "$EXECD_SPOOL"/*/messages >&2 2>/dev/null || true
    qdel "$jid1" "$jid2" >/dev/null 2>&1 || true
    die "SGE self-check FAILED: jobs did not finish (with output and qacct records) within ${CHECK_TIMEOUT}s"
fi
rm -rf "$chkdir"
log "self-check passed (single job $jid1, array job $jid2 tasks 1-2, both in qacct)"
log "SGE ready: queue all.q (PEs smp, make) on $HOST; done in $(( $(date +%s) - T0 )) s"
