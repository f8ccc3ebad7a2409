#!/usr/bin/env bash
# Builds the sandbox image without a registry: a minimal Debian root made by debootstrap from the apt mirror this
# machine already uses (python3, g++ and python3-numpy only), imported into Docker as a base image, then the runner
# added on top.
# The base is kept under its own tag, so a changed runner costs seconds, not a new debootstrap.
#
#   usage: build_offline.sh TAG          (needs root, docker and debootstrap)
#   env:   CODELHF_MIRROR  apt mirror (default: the one in /etc/apt/sources*, else deb.debian.org)
#          CODELHF_SUITE   Debian release (default: bookworm, whose python3 is 3.11 like the Dockerfile's)
set -euo pipefail

tag=${1:?usage: build_offline.sh TAG}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
suite=${CODELHF_SUITE:-bookworm}

# The first http(s) Debian mirror configured for apt (deb822 "URIs:" or one-line "deb URL" format).
configured_mirror() {
    cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null \
        | grep -Eo '(URIs:|^deb( \[[^]]*\])?) +https?://[^ ]*/debian/?( |$)' | grep -Eo 'https?://[^ ]*' | head -n 1
}
mirror=${CODELHF_MIRROR:-$(configured_mirror || true)}
mirror=${mirror:-http://deb.debian.org/debian}

for tool in docker debootstrap; do
    command -v "$tool" >/dev/null || { echo "build_offline.sh: $tool not found (apt-get install docker.io debootstrap)" >&2; exit 1; }
done

# numpy: APPS's and TACO's harnesses import it in front of every program (codelhf/harness/dialects.py).
packages=python3,g++,python3-numpy
# numpy's own test suites are 15 of its 37 MB.
trim='var/cache/apt/* var/lib/apt/lists/* usr/share/doc/* usr/share/man/* usr/share/info/* usr/share/locale/*
      usr/lib/python3/dist-packages/numpy/*/tests usr/lib/python3/dist-packages/numpy/*/*/tests'
# The base's tag is a hash of what goes into it, so editing the rest of this script does not redo the debootstrap.
base="codelhf-sandbox-base:$(echo "$suite $packages $trim" | sha256sum | cut -c1-12)"
if ! docker image inspect "$base" >/dev/null 2>&1; then
    # Not under /tmp: debootstrap creates device nodes, which a nodev tmpfs would refuse.
    root=$(mktemp -d "${CODELHF_BUILD_DIR:-/var/tmp}/codelhf-root.XXXXXX")
    trap 'rm -rf "$root"' EXIT
    echo "debootstrap $suite from $mirror into $root" >&2
    debootstrap --variant=minbase --include="$packages" "$suite" "$root" "$mirror" >&2
    (cd "$root" && rm -rf $trim)  # unquoted: the patterns expand inside the new root
    tar -C "$root" -c . | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV PYTHONDONTWRITEBYTECODE=1' \
        --change 'CMD ["python3"]' - "$base" >/dev/null
    rm -rf "$root"
    trap - EXIT
fi

# The runner layer: create a stopped container, copy the runner in, commit it with the runner as its command.
container=$(docker create "$base" true)  # no labels: commit would bake them into the image
trap 'docker rm -f "$container" >/dev/null 2>&1 || true' EXIT
tar -C "$here" --owner=0 --group=0 --mode=0644 --transform 's,^,opt/codelhf/,' -c runner.py \
    | docker cp - "$container:/"
docker commit --change 'CMD ["python3", "/opt/codelhf/runner.py"]' "$container" "$tag" >/dev/null
