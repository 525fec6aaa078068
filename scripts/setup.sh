#!/usr/bin/env bash
# Installs the Debian packages Adal needs when they are missing: the PostgreSQL server
# programs (initdb, pg_ctl), libqrencode for QR codes, pkg-config to find it, and zbar-tools,
# whose reader the tests use to check the QR codes.
# As root it installs them with apt-get; otherwise it prints the exact command and stops.
set -euo pipefail

missing=()
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    missing+=(postgresql)
fi
command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
if ! dpkg-query -W -f='${Status}' libqrencode-dev 2>/dev/null | grep -q "install ok installed"; then
    missing+=(libqrencode-dev)
fi

# zbarimg reads QR codes back in the tests, independently of the code that draws them.
command -v zbarimg >/dev/null 2>&1 || missing+=(zbar-tools)
# openssl makes the self-signed certificate of the tests' SMTP server.
command -v openssl >/dev/null 2>&1 || missing+=(openssl)

# The tests check open contracting data with the standard's own validator (libcoveocds, from
# PyPI) in a virtual environment of the project's own: python3-venv makes it.
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)

# `setup.sh bench`: wrk drives the HTTP benchmarks (`make bench`).
if [ "${1:-}" = "bench" ]; then
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
fi

install_validators() {
    local venv=.tools/venv
    [ -x "$venv/bin/pip" ] || python3 -m venv "$venv"
    # The standards' own checkers: OCDS releases, Frictionless data packages, a third-party
    # Open311 (GeoReport v2) client that the tests point at the running server, and an SMTP
    # server the email tests send to.
    if [ ! -x "$venv/bin/libcoveocds" ]; then
        echo "Installing libcoveocds (OCDS validator) into $venv ..."
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'libcoveocds==0.17.*'
    fi
    if [ ! -x "$venv/bin/frictionless" ]; then
        echo "Installing frictionless (data package validator) into $venv ..."
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'frictionless==5.21.*'
    fi
    # A real SMTP server (scripts/smtp-test-server.py) that the email tests send to.
    if ! "$venv/bin/python" -c 'import aiosmtpd' >/dev/null 2>&1; then
        echo "Installing aiosmtpd (SMTP server for the tests) into $venv ..."
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'aiosmtpd==1.4.*'
    fi
    if ! "$venv/bin/python" -c 'import georeport' >/dev/null 2>&1; then
        echo "Installing georeport (Open311 client) into $venv ..."
        "$venv/bin/pip" install --quiet --disable-pip-version-check 'georeport==0.3.1'
    fi
}

if [ ${#missing[@]} -eq 0 ]; then
    install_validators
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    echo "Installing ${missing[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
    # Debian's package starts a cluster of its own; Adal runs a private one and needs none.
    if command -v pg_lsclusters >/dev/null 2>&1; then
        pg_lsclusters -h 2>/dev/null | while read -r version name _; do
            pg_ctlcluster "$version" "$name" stop 2>/dev/null || true
        done
    fi
else
    echo "Adal needs these Debian packages: ${missing[*]}. Install them with:" >&2
    echo "    sudo apt-get install ${missing[*]}" >&2
    exit 1
fi
install_validators
