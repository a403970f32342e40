#!/usr/bin/env bats
# Every tool's options come from one table (lib/core/opt.h): --help lists them, and each
# one it lists appears in the tool's man page, in SYNOPSIS and in OPTIONS.
load helpers
MAN="$BATS_TEST_DIRNAME/../man"

# the options of TOOL's --help, one per line: "--long" or, without a long name, "-s"
helpopts() {
	"$1" --help | sed -nE 's/^  (-[A-Za-z0-9], )?(--[A-Za-z0-9-]+|-[A-Za-z0-9]).*/\2/p'
}

# section NAME of TOOL's man page, "\-" as "-"
section() {
	awk -v s="$2" '/^\.Sh / { on = $2 == s; next } on' "$MAN/$1.1" | sed 's/\\-/-/g'
}

check() {
	local tool=$1 bad= o
	[ -n "$(helpopts "$tool")" ] || { echo "$tool --help lists no option"; return 1; }
	for o in $(helpopts "$tool"); do
		for s in SYNOPSIS OPTIONS; do
			section "$tool" $s | grep -qE "Fl ${o#-}( |$)" || bad="$bad $o($s)"
		done
	done
	[ -z "$bad" ] || { echo "$tool: not in its man page:$bad"; return 1; }
}

@test "ms-refine: every option of --help is in the man page's SYNOPSIS and OPTIONS" {
	check ms-refine
}

@test "ms-segment: every option of --help is in the man page's SYNOPSIS and OPTIONS" {
	check ms-segment
}

@test "ms-sample: every option of --help is in the man page's SYNOPSIS and OPTIONS" {
	check ms-sample
}

@test "ms-score: every option of --help is in the man page's SYNOPSIS and OPTIONS" {
	check ms-score
}

@test "the check fails on an option the man page lacks" {
	mkdir -p "$BATS_TEST_TMPDIR/man"
	sed '/^\.Op Fl \\-wd Ar X$/d; /^\.It Fl \\-wd Ar X$/d' "$MAN/ms-refine.1" >"$BATS_TEST_TMPDIR/man/ms-refine.1"
	! cmp -s "$MAN/ms-refine.1" "$BATS_TEST_TMPDIR/man/ms-refine.1"
	MAN=$BATS_TEST_TMPDIR/man run check ms-refine
	[ "$status" -ne 0 ]
	[[ "$output" == *"--wd(SYNOPSIS)"* ]]
}

@test "ms-import: every option of --help is in the man page's SYNOPSIS and OPTIONS" { check ms-import; }
@test "ms-export: every option of --help is in the man page's SYNOPSIS and OPTIONS" { check ms-export; }
@test "ms-pick: every option of --help is in the man page's SYNOPSIS and OPTIONS" { check ms-pick; }
@test "ms-edges: every option of --help is in the man page's SYNOPSIS and OPTIONS" { check ms-edges; }
@test "ms-merge-mask: every option of --help is in the man page's SYNOPSIS and OPTIONS" { check ms-merge-mask; }
@test "ms-info: every option of --help is in the man page's SYNOPSIS and OPTIONS" { check ms-info; }
@test "ms-run: every option of --help is in the man page's SYNOPSIS and OPTIONS" { check ms-run; }

@test "--seed takes the same range, [0, 2^62], in every tool that has it" {
	local c
	for c in "ms-segment train" "ms-sample train" ms-sample "ms-refine train" ms-refine \
	         ms-merge-mask; do
		run $c --seed 4611686018427387905 </dev/null
		[ "$status" -eq 2 ]
		[[ "$output" == *"--seed: '4611686018427387905' is not an integer in [0, 4611686018427387904]"* ]]
		run $c --seed -1 </dev/null
		[ "$status" -eq 2 ]
	done
	ms-merge-mask --seed 4611686018427387904 </dev/null
}
