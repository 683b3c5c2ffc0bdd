#!/usr/bin/env bash
# Install Slurm and munge from the Debian packages when they are missing (CI: .ci/run).
# Installs only; starts nothing. The packages' own services are not enabled by this script
# (in a container without systemd nothing starts; on a systemd host Debian may start them, which
# the cluster test then detects and skips: see tests/slurm/cluster.py).
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"
need=0
for b in slurmctld slurmd munged sbatch squeue scancel scontrol sinfo srun; do
  command -v "$b" >/dev/null || need=1
done
[ "$need" = 0 ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "ERROR: slurm-wlm/munge missing and no apt-get: install Slurm and munge yourself" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101 keeps the packages' init scripts from starting system daemons during install.
prc=/usr/sbin/policy-rc.d
made_prc=0
if [ ! -e "$prc" ]; then printf '#!/bin/sh\nexit 101\n' > "$prc"; chmod +x "$prc"; made_prc=1; fi
trap '[ "$made_prc" = 1 ] && rm -f "$prc"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends slurm-wlm munge >/dev/null
