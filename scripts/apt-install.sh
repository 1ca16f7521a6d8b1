#!/usr/bin/env bash
# apt-install.sh WHO PACKAGE...: install Debian packages a benchmark needs
# (with sudo unless root), saying which script asked. The benchmarks call
# it only for what is missing.
set -euo pipefail
who=${1:?usage: apt-install.sh WHO PACKAGE...}
shift
[ $# -gt 0 ] || { echo "apt-install.sh: no packages named" >&2; exit 2; }
sudo=
[ "$(id -u)" -eq 0 ] || sudo=sudo
echo "$who: installing $*" >&2
$sudo apt-get update -q
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "$@"
