#!/bin/sh
# The layering of lib/ (lib/README): each folder is a layer, and a file may include
# headers of its own layer and of the layers below it, never of one above. The order,
# lowest first:
#
#   core < image < io < metrics < nn < diffusion < models < pipeline
#
# Includes are "folder/file.h" (found through -Ilib) or "file.h" of the same folder.
# Fails, naming file and line, on an include of a higher layer, of an unknown folder or
# of a missing header, on a lib/ folder not in the order, on files directly in lib/,
# and on a tool or test including a folder's internal.h.
# usage: sh tests/layers.sh [LIBDIR]    (run by make check; LIBDIR defaults to lib)
ORDER="core image io metrics nn diffusion models pipeline"
lib=${1:-lib}
status=0

rank() {
	r=0
	for l in $ORDER; do
		[ "$l" = "$1" ] && { echo $r; return; }
		r=$((r + 1))
	done
	echo -1
}

bad() {
	echo "layers: $*" >&2
	status=1
}

for f in "$lib"/*.c "$lib"/*.h; do
	[ -e "$f" ] && bad "$f: directly in $lib/; put it in a layer folder"
done

for d in "$lib"/*/; do
	d=${d%/}
	layer=${d##*/}
	me=$(rank "$layer")
	if [ "$me" -lt 0 ]; then
		bad "$d: folder not in the layer order ($ORDER); add it to tests/layers.sh"
		continue
	fi
	for f in "$d"/*.c "$d"/*.h; do
		[ -e "$f" ] || continue
		# "LINE:HEADER" for each #include "HEADER"
		grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
			sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' > "${TMPDIR:-/tmp}/layers.$$"
		while read -r line h; do
			case $h in
			*/*)
				hl=${h%%/*}
				r=$(rank "$hl")
				if [ "$r" -lt 0 ]; then
					bad "$f:$line: includes \"$h\" of unknown folder '$hl'"
				elif [ "$r" -gt "$me" ]; then
					bad "$f:$line: includes \"$h\": layer $hl is above $layer"
				elif [ ! -e "$lib/$h" ]; then
					bad "$f:$line: includes \"$h\", which is not in $lib/"
				fi ;;
			*)
				[ -e "$d/$h" ] || bad "$f:$line: includes \"$h\", not a header of $d/" ;;
			esac
		done < "${TMPDIR:-/tmp}/layers.$$"
		rm -f "${TMPDIR:-/tmp}/layers.$$"
	done
done

# internal headers stay inside their folder
for f in $(ls bin/*.c tests/unit/*.c tests/fuzz/*.c 2>/dev/null); do
	hits=$(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"[^"]*internal\.h"' "$f")
	[ -n "$hits" ] && bad "$f: includes a folder's internal header: $hits"
done

[ $status = 0 ] && echo "layers: ok ($ORDER)"
exit $status
