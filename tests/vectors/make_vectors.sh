#!/usr/bin/env bash
# make_vectors.sh HARNESS [OUTDIR]
# Rebuilds tests/vectors/reference with belenios-tool, through the harness of
# ../shared/peers/belenios (make_election.sh, lib/check_conventions.py): the same six variants
# as the harness's make_reference_set.sh; simple-plain-RFC, nh-mixnet-RFC and large-10x10-BELENIOS
# with fewer voters so that the set stays small.
# Then drops what the tests do not read (timings, logs, the harness's scratch directory).
set -euo pipefail
HARNESS=$(cd "${1:?usage: make_vectors.sh HARNESS [OUTDIR]}" && pwd)
OUT=${2:-$(cd "$(dirname "$0")" && pwd)/reference}
export BELENIOS_USE_URANDOM=1 LC_ALL=C JOBS=${JOBS:-1} QUIET=1
mkdir -p "$OUT"
mk() { # name env... -- GROUP NVOTERS NTRUSTEES THRESHOLD TEMPLATE
    local name=$1; shift
    local envs=()
    while [ "$1" != -- ]; do envs+=("$1"); shift; done; shift
    rm -rf "${OUT:?}/$name"
    echo "== $name: ${envs[*]} $*" >&2
    env "${envs[@]}" "$HARNESS/make_election.sh" "$1" "$2" "$3" "$4" "$OUT/$name" "$5" >/dev/null
    local d="$OUT/$name" u
    u=$(cat "$d/uuid.txt")
    python3 "$HARNESS/lib/check_conventions.py" "$d/$u.bel" \
        --privcreds "$d/secrets/private_creds.txt" --ballots 2 > "$d/conventions_check.txt" 2>&1
    rm -rf "$d/work" "$d/log.txt" "$d/timings.tsv"
}
mk simple-plain-BELENIOS        SEED=1 -- BELENIOS-2048 5 2 0 simple
mk simple-plain-RFC             SEED=2 -- RFC-3526-2048 2 2 0 simple
mk threshold-weighted-revotes   SEED=3 WEIGHTED=1 REVOTES=2 -- BELENIOS-2048 6 3 2 simple
mk threshold-noserver-2of3      SEED=4 SERVER_KEY=0 DECRYPT_SET="1 3" -- BELENIOS-2048 5 3 2 simple
mk nh-mixnet-RFC                SEED=5 -- RFC-3526-2048 3 2 0 nh
mk large-10x10-BELENIOS         SEED=6 -- BELENIOS-2048 1 1 0 large
