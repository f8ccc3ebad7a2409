#!/usr/bin/env bash
# Sets codelhf up on this machine, as both README commands need it: the project installed in .venv, a Docker
# daemon that answers, and the sandbox image. Idempotent: when everything is there it checks, prints one line, ends.
#
# Docker: a running daemon (DOCKER_HOST or the default socket) is used as it is. Without one, as root on Debian,
# docker.io and debootstrap are installed from apt and dockerd is started (through systemd when it runs the
# machine, else in the background with a log file). Otherwise it says what to install and exits non-zero.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
say() { echo "setup: $*" >&2; }
die() { echo "setup: error: $*" >&2; exit 1; }

# --- 1. Python environment ------------------------------------------------------------------------------------
# Reinstalled when pyproject.toml changes (its hash is kept in a stamp file inside .venv).
python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    command -v "$python" >/dev/null || die "$python not found: install Python >= 3.10 (Debian: apt-get install python3 python3-venv)"
    say "creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv || die "cannot create .venv (Debian: apt-get install python3-venv)"
fi
stamp=.venv/.codelhf-installed
wanted=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] || ! .venv/bin/python -c 'import codelhf' 2>/dev/null; then
    if ! .venv/bin/python -c 'import torch' 2>/dev/null; then
        say "installing torch"  # pinned first, so the resolver does not pick a different (GPU-sized) build
        .venv/bin/python -m pip install -q torch==2.13.0
    fi
    say "installing codelhf and its dev tools into .venv"
    .venv/bin/python -m pip install -q -e '.[dev]'
    echo "$wanted" > "$stamp"
fi

# --- 2. Docker daemon -----------------------------------------------------------------------------------------
docker_answers() { .venv/bin/python -c 'import docker; docker.from_env(timeout=5).ping()' >/dev/null 2>&1; }

apt_install() {
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq "$@" >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq "$@" >/dev/null; }
}

wait_for_docker() {  # seconds
    for _ in $(seq "$1"); do docker_answers && return 0; sleep 1; done
    return 1
}

start_docker() {
    if [ -n "${DOCKER_HOST:-}" ]; then
        die "DOCKER_HOST=$DOCKER_HOST does not answer: start that daemon, or unset DOCKER_HOST to use a local one"
    fi
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
        die "no Docker daemon answers, and setting one up needs root on Debian/Ubuntu (apt).
  Install Docker (Debian: sudo apt-get install docker.io debootstrap; elsewhere: https://docs.docker.com/engine/install/),
  start it, and let your user use it (sudo usermod -aG docker \$USER, then log in again). Then run this again.
  Without Docker, codelhf can still run programs with --backend local (weaker isolation)."
    fi
    if ! command -v dockerd >/dev/null || ! command -v debootstrap >/dev/null; then
        say "installing docker.io and debootstrap from apt"
        apt_install docker.io debootstrap || die "apt-get install docker.io debootstrap failed (is the apt mirror reachable?)"
        wait_for_docker 10 && return 0  # the package's own service may have started it
    fi
    if [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
        say "starting the docker service"
        systemctl start docker && wait_for_docker 60 && return 0
        say "the docker service did not come up; starting dockerd directly"
    fi
    # No init system to ask (a container or a minimal VM). No iptables and no default bridge: sandbox
    # containers use --network none, and such machines often lack the netfilter support dockerd would need.
    local log=/var/log/codelhf-dockerd.log
    say "starting dockerd in the background (log: $log)"
    (cd / && setsid nohup dockerd --iptables=false --ip6tables=false --bridge=none >"$log" 2>&1 </dev/null &)
    wait_for_docker 60 || die "dockerd did not answer within 60 s; its log ($log) ends with:
$(tail -n 15 "$log")"
}

docker_answers || start_docker

# --- 3. The sandbox image (built only when missing: from the registry, or offline from Debian packages) ------
# Offline builds need debootstrap; fetch it here when we can, rather than fail inside the build.
if ! command -v debootstrap >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    say "installing debootstrap (for building the sandbox image without a registry)"
    apt_install debootstrap || say "could not install debootstrap; the image can still be built if the registry answers"
fi
.venv/bin/codelhf sandbox build
