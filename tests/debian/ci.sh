#!/bin/bash
# The Debian packages in CI (tools/run-tests.sh): builds them, then the
# symbols gate, lintian, piuparts (on Debian 12, and on Debian 13 for the
# install and the upgrade from trixie's own) and the real install
# (install-test.sh: Debian's clients in a chroot on our packages, about
# 1.5 minutes once its chroot tarball is cached). As root it first
# installs the packaging tools it needs; the build dependencies are
# installed by build-packages.sh. The i386 packages (i386.sh) are not
# built here.
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1

tools=(dpkg-dev debhelper fakeroot lintian piuparts mmdebstrap)
missing=()
for p in "${tools[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "debian-ci: missing ${missing[*]}; run as root" >&2
		exit 1
	fi
	apt-get update -q
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

status=0
for t in build-packages symbols-gate lint piuparts "piuparts --dist trixie" install-test; do
	start=$SECONDS
	read -ra cmd <<<"$t"
	t="${cmd[0]}.sh${cmd[1]:+ ${cmd[*]:1}}"
	echo "--- tests/debian/$t"
	if ! "tests/debian/${cmd[0]}.sh" "${cmd[@]:1}"; then
		status=1
		[ "$t" = build-packages.sh ] && break
	fi
	echo "--- tests/debian/$t: $((SECONDS - start)) s"
done
exit $status
