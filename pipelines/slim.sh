#!/bin/sh
# slim.sh [MODEL]: copy the checkpoint MODEL (or standard input) to standard output without
# what only training needs, for shipping. The optimiser state (adam.m.*, adam.v.*) is
# dropped; where the checkpoint holds averaged weights (ema.*, from ms-sample train), they
# replace the raw ones under the raw names, as ms-sample -m would swap them in anyway.
# ms-segment -m, ms-sample -m and ms-refine -m give the same bytes with the checkpoint and
# with its slim copy; training cannot resume from it. Needs ms-info and ms-pick on PATH.
# Used by pipelines/models.yaml:
#   sh pipelines/slim.sh < pipelines/models/full/segment.ms > segment.ms
set -e
[ $# -le 1 ] || { echo "usage: sh slim.sh [MODEL] > SLIM" >&2; exit 2; }
f=${1:-}
if [ -z "$f" ]; then   # a filter: keep the stream, which is read twice
	f=$(mktemp)
	trap 'rm -f "$f"' EXIT
	cat > "$f"
fi
names=$(ms-info "$f" | cut -f2)
[ "${names%%[!a-z]*}" = model ] || { echo "slim.sh: not a checkpoint" >&2; exit 1; }
ema=$(printf '%s\n' "$names" | sed -n 's/^ema\.//p')
set -- -d "$(printf '%s\n' "$names" | grep '^adam\.' | paste -sd, -)"
[ -z "$ema" ] || set -- "$@" -d "$(printf '%s\n' "$ema" | paste -sd, -)" \
	-r "$(printf '%s\n' "$ema" | sed 's/.*/ema.&=&/' | paste -sd, -)"
ms-pick "$@" < "$f"
