#!/usr/bin/env bash
# A real one-node Slurm cluster on this machine, for the SlurmRunner's tests: Debian's
# slurm-wlm and munge, a slurm.conf with the controller and the compute node on this
# host, no accounting database (so jobs are followed with scontrol, as on many small
# clusters). Needs root; installs the packages with apt when they are missing.
#
#   bash scripts/slurm-local.sh start    # prints "slurm: ready" when the node is idle
#   bash scripts/slurm-local.sh stop
#   bash scripts/slurm-local.sh status
set -euo pipefail

state=/var/tmp/autoresearch-slurm
conf=/etc/slurm/slurm.conf
say() { printf 'slurm: %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then say "needs root (it writes $conf and starts the daemons)"; exit 3; fi
}

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  command -v apt-get >/dev/null || { say "no apt-get: install slurm-wlm and munge yourself"; exit 3; }
  say "installing slurm-wlm and munge with apt"
  apt-get update -qq >&2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

write_conf() {
  local host cpus memory
  host="$(hostname -s)"
  cpus="$(nproc)"
  memory="$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 0.9 }' /proc/meminfo)"
  mkdir -p /etc/slurm "$state/ctld" "$state/d" /var/log/slurm
  cat >"$conf" <<EOF
ClusterName=autoresearch
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/d
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/linux
JobAcctGatherFrequency=1
JobAcctGatherParams=OverMemoryKill
JobCompType=jobcomp/none
MinJobAge=600
KillWait=2
InactiveLimit=0
ReturnToService=2
MpiDefault=none
NodeName=$host CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:4
EOF
}

start() {
  need_root
  install
  write_conf
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key 2>/dev/null
  fi
  chown munge:munge /etc/munge/munge.key 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  pgrep -x munged >/dev/null || su -s /bin/sh munge -c "/usr/sbin/munged" 2>/dev/null || /usr/sbin/munged --force
  pgrep -x slurmctld >/dev/null || /usr/sbin/slurmctld -i
  pgrep -x slurmd >/dev/null || /usr/sbin/slurmd
  for _ in $(seq 1 60); do
    if [ "$(sinfo -h -o %T 2>/dev/null | head -1)" = idle ]; then say "ready"; return; fi
    scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    sleep 0.5
  done
  say "the node did not become idle: $(sinfo -h -o '%T %E' 2>&1 | head -1)"
  exit 1
}

stop() {
  need_root
  scancel --user root >/dev/null 2>&1 || true
  pkill -x slurmd || true
  pkill -x slurmctld || true
  say "stopped"
}

case "${1:-status}" in
  start) start ;;
  stop) stop ;;
  status) sinfo 2>&1 ;;
  *) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
