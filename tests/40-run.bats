#!/usr/bin/env bats
# ms-run: YAML pipelines against the hand-written shell pipes they stand for.

load helpers
P="$BATS_TEST_DIRNAME/data/pipelines"

setup() {
	cd "$BATS_TEST_TMPDIR"
}

# a two-sample stream written by the independent Python writer
mkstream() {
	/usr/bin/python3 - "$1" "$BATS_TEST_DIRNAME/ref" <<'PY'
import sys; sys.path.insert(0, sys.argv[2])
import numpy as np, msstream
with open(sys.argv[1], "wb") as f:
    for i in range(2):
        msstream.write(f, "image", {"id": f"s{i}"}, np.full((1, 2, 3), i / 2, np.float32))
        msstream.write(f, "mask", {"id": f"s{i}"}, np.ones((1, 2, 3), np.uint8))
PY
}

@test "usage: --help, no file, unknown option" {
	help_ok ms-run -- 'usage: ms-run *--swap STAGE=COMMAND*'
	run -2 ms-run
	[[ "$output" == "usage: ms-run "* ]]
	run -2 ms-run --bogus "$P/basic.yaml"
	run -2 ms-run "$P/basic.yaml" "$P/basic.yaml"
}

@test "a pipeline's output is byte-identical to the shell pipe" {
	ms-run "$P/basic.yaml" > got
	printf 'pear\napple\nfig\napple\n' | sort | tr a-z A-Z > want
	cmp got want
	[ "$(cat got)" = "$(printf 'APPLE\nAPPLE\nFIG\nPEAR')" ]
}

@test "an ms tool in a chain: same bytes as the shell pipe" {
	mkstream s.ms
	ms-run --set stream=s.ms "$P/info.yaml" > got
	ms-info -H < s.ms | sort -r > want
	cmp got want
	[ "$(wc -l < got)" -eq 5 ]
}

@test "the first stage reads standard input; the last writes standard output" {
	run bash -c "printf 'b\na\n' | ms-run --swap make='cat' '$P/basic.yaml'"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'A\nB')" ]
}

@test "--dry-run prints the shell commands; pasted into sh they give the same bytes" {
	run ms-run --dry-run "$P/basic.yaml"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf "printf 'pear\napple\nfig\napple\n' | sort | tr a-z A-Z")" ]
	for f in basic literal output files writes; do
		mkdir "$f-run" "$f-sh"
		(cd "$f-run" && ms-run "$P/$f.yaml" > stdout)
		ms-run -n "$P/$f.yaml" > "$f.sh"
		(cd "$f-sh" && sh "../$f.sh" > stdout)
		diff -r "$f-run" "$f-sh"
	done
	[ -s literal-sh/stdout ] && [ -s files-sh/count.txt ]
}

@test "--dry-run quotes arguments of any bytes so that sh passes them unchanged" {
	# every byte 1..255 but NUL, quotes and backslashes, as one argument each
	/usr/bin/python3 - > nasty.yaml <<'PY'
import json
words = ["".join(map(chr, range(1, 128))), "it's", "'", '"', "\\", "", " ", "a\nb",
         "${x}".replace("$", "$$"), "-n", "=", "FOO=bar", "if", "~", "#", "!", "*", "caf\u00e9 \u20ac"]
print("name: nasty\nstages:\n  - name: show\n    run: " + json.dumps(["printf", "[%s]\\n"] + words))
PY
	ms-run nasty.yaml > got
	sh -c "$(ms-run -n nasty.yaml)" > want
	cmp got want
	grep -qx '\[${x}\]' got
	grep -qxF "[it's]" got
}

@test "shell syntax in a value reaches the program as a literal argument" {
	run ms-run "$P/literal.yaml"
	[ "$status" -eq 0 ]
	lines_are <<-'EOF'   # (lines skips the empty line)
	; rm -rf x
	`touch pwned` $(touch pwned2) && echo no | cat > pwned3
	a  b
	c d
	${v}
	${v}
	$$
	it's
	EOF
	[ "$output" = "$(printf '%s\n' '; rm -rf x' '`touch pwned` $(touch pwned2) && echo no | cat > pwned3' \
	                'a  b' 'c d' '${v}' '${v}' '$$' '' "it's")" ]
	[ ! -e pwned ] && [ ! -e pwned2 ] && [ ! -e pwned3 ] && [ ! -e no ]
	touch x
	run ms-run --set 'v=$(rm x); rm x' --set 'w=`rm x`' "$P/literal.yaml"
	[ "${lines[0]}" = '$(rm x); rm x' ]
	[ "${lines[1]}" = '`rm x`' ]
	[ -e x ]
}

@test "--set overrides a default; an unknown variable is a usage error" {
	run ms-run --set upper=a-z --set 'words=b a' "$P/basic.yaml"
	[ "$status" -eq 0 ]
	[ "$output" = "b a" ]
	run -2 ms-run --set nosuch=1 "$P/basic.yaml"
	[ "$output" = "ms-run: --set: $P/basic.yaml has no variable 'nosuch'" ]
	run -2 ms-run --set novalue "$P/basic.yaml"
	[[ "$output" == *"expected VAR=VALUE" ]]
}

@test "--swap changes exactly the one stage" {
	ms-run -n "$P/output.yaml" > before
	ms-run -n --swap sort='sort -r' "$P/output.yaml" > after
	[ "$(diff before after | grep -c '^[<>]')" -eq 2 ]
	grep -qx "printf 'c\\\\nb\\\\na\\\\n' | sort -r | cat > out.txt" after
	ms-run --swap sort='sort -r' "$P/output.yaml"
	printf 'c\nb\na\n' | sort -r | cat > want
	cmp out.txt want
	run -2 ms-run --swap nosuch=cat "$P/output.yaml"
	[ "$output" = "ms-run: --swap: $P/output.yaml has no stage 'nosuch'" ]
	run -2 ms-run --swap sort=cat --swap sort=cat "$P/output.yaml"
	[[ "$output" == *"swapped twice" ]]
	run -1 ms-run --swap "sort='x" "$P/output.yaml"
	[ "$output" = "ms-run: --swap sort: unterminated single quote" ]
}

@test "a failing stage is named with its status; the output file is not written" {
	echo old > out.txt
	run -1 ms-run --swap sort='sh -c "cat; exit 3"' "$P/output.yaml"
	[ "$output" = "ms-run: stage 'sort' (sh) exited with status 3" ]
	[ "$(cat out.txt)" = old ]
	[ "$(ls)" = out.txt ]
	# a stage that writes part of its output, then fails
	rm out.txt
	run -1 ms-run --swap save='sh -c "head -c 2; exit 4"' "$P/output.yaml"
	[ "$output" = "ms-run: stage 'save' (sh) exited with status 4" ]
	[ -z "$(ls)" ]
}

@test "a failure stops the other stages of the chain" {
	start=$SECONDS
	run -1 ms-run --swap gen='sleep 30' --swap sort='sh -c "exit 3"' "$P/output.yaml"
	[ "$output" = "ms-run: stage 'sort' (sh) exited with status 3" ]
	[ $((SECONDS - start)) -lt 5 ]
	[ -z "$(ls)" ]
}

@test "the stage blamed is the first to fail, not one whose input ended early" {
	for i in 1 2 3; do
		run -1 ms-run --swap gen='sh -c "printf x; exit 7"' \
			--swap sort='sh -c "cat > /dev/null; exit 1"' "$P/output.yaml"
		[ "$output" = "ms-run: stage 'gen' (sh) exited with status 7" ]
		run -1 ms-run --swap gen=yes --swap sort='sh -c "head -c 1 > /dev/null; exit 5"' \
			"$P/output.yaml"
		[ "$output" = "ms-run: stage 'sort' (sh) exited with status 5" ]
	done
}

@test "a killed stage is named with its signal" {
	cat > kill.yaml <<'EOF'
name: kill
stages:
  - name: gen
    run: printf 'x\n'
  - name: die
    run: [sh, -c, 'kill -9 $$']
  - name: save
    run: cat
    output: out.txt
EOF
	run -1 ms-run kill.yaml
	[ "$output" = "ms-run: stage 'die' (sh) was killed by signal 9" ]
	[ -z "$(ls | grep out)" ]
}

@test "an output that is a FIFO or a device is written in place, never replaced" {
	printf 'name: fifo\nstages:\n  - name: gen\n    run: [printf, "x\\n"]\n    output: out\n' > fifo.yaml
	mkfifo out
	timeout 10 cat out > got &   # a replaced FIFO never gets a writer
	run ms-run fifo.yaml
	wait
	[ "$status" -eq 0 ]
	[ -p out ]
	[ "$(cat got)" = x ]
	rm out
	ln -s /dev/null out
	run ms-run fifo.yaml
	[ "$status" -eq 0 ]
	[ -L out ] && [ -c /dev/null ]
}

@test "a missing program is named with its stage" {
	run -1 ms-run --swap sort='nosuchprog-ms -x' "$P/output.yaml"
	[ "$output" = "ms-run: stage 'sort': cannot run nosuchprog-ms: No such file or directory" ]
	[ -z "$(ls)" ]
}

@test "a stage killed by SIGPIPE after the next stage stopped reading is no failure" {
	run ms-run --swap gen=yes --swap sort='head -c 10000' "$P/output.yaml"
	[ "$status" -eq 0 ]
	yes | head -c 10000 > want
	cmp out.txt want
}

@test "errors in the file are reported with line and column before anything starts" {
	# each file with the message after "ms-run: FILE:"
	while IFS='|' read -r f msg; do
		run_is 1 "ms-run: $P/$f:$msg" ms-run "$P/$f"
	done <<-'EOF'
	bad-syntax.yaml|6:1: found unexpected end of stream while scanning a quoted scalar at 4:10
	bad-key.yaml|5:5: unknown key 'outptu' in a stage
	bad-norun.yaml|5:5: stage 'x' has no run
	bad-dup.yaml|5:5: duplicate stage name 'a' (also at line 3)
	bad-quote.yaml|4:10: stage 'a': unterminated double quote
	EOF
	run_is 1 "ms-run: cannot open nosuch.yaml: No such file or directory" ms-run nosuch.yaml
}

@test "an undefined variable is an error with its place; --set does not define one" {
	run_is 1 "ms-run: $P/bad-undefined.yaml:8:21: stage 'b': undefined variable 'unknown'" \
		ms-run "$P/bad-undefined.yaml"
	run_is 1 "ms-run: $P/info.yaml:7:12: stage 'read': variable 'stream' is not set (--set stream=VALUE)" \
		ms-run "$P/info.yaml"
}

@test "a cycle in file dependencies is an error before anything starts" {
	echo x > a.txt
	echo y > b.txt
	run -1 ms-run "$P/bad-cycle.yaml"
	[ "$output" = "ms-run: $P/bad-cycle.yaml:4:12: cycle in file dependencies: stage 'a' reads b.txt from stage 'b', stage 'b' reads a.txt from stage 'a'" ]
	[ "$(cat a.txt b.txt)" = "$(printf 'x\ny')" ]
}

@test "chains run in dependency order: a file is read after it is written" {
	run bash -c "ms-run -v '$P/files.yaml' 2> err"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '3\na\nb\nc')" ]
	run cat err
	[ "${lines[0]}" = "ms-run: printf 'b\\na\\nc\\n' < /dev/null | sort > sorted.txt" ]
	[ "${lines[2]}" = "ms-run: wc -l < sorted.txt > count.txt" ]
	[ "${lines[4]}" = "ms-run: cat - sorted.txt < count.txt" ]
	[[ "${lines[5]}" == "ms-run: done in "*" s" ]]
	[ "$(cat sorted.txt)" = "$(printf 'a\nb\nc')" ]
}

@test "writes: and needs: order a stage after one that writes through its arguments" {
	run ms-run "$P/writes.yaml"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '1\n2\n3')" ]
	[ "$(cat make.log)" = made ]
	run -1 ms-run --swap make=true --set file=other.txt "$P/writes.yaml"
	[ "$output" = "ms-run: stage 'make' did not write other.txt" ]
}

@test "--only runs the named stages; their inputs must come from files" {
	run bash -c "printf 'b\na\n' | ms-run --only sort '$P/output.yaml'"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'a\nb')" ]
	[ -z "$(ls)" ]
	run ms-run --only gen,sort "$P/output.yaml"
	[ "$output" = "$(printf 'a\nb\nc')" ]
	run -1 ms-run --only count "$P/files.yaml"
	[ "$output" = "ms-run: $P/files.yaml:11:12: stage 'count': sorted.txt does not exist (written by stage 'sort', which is not selected)" ]
	printf 'x\ny\n' > sorted.txt
	ms-run --only count --only show "$P/files.yaml" > got
	[ "$(cat got)" = "$(printf '2\nx\ny')" ]
	run -1 ms-run --only gen,save "$P/output.yaml"
	[ "$output" = "ms-run: $P/output.yaml:10:5: --only: stage 'save' reads the output of stage 'sort', which is not selected" ]
	run -2 ms-run --only gen,nosuch "$P/output.yaml"
}

@test "SIGINT and SIGTERM reach every stage; no temporary is left; exit 128+signal" {
	for sig in INT TERM; do
		# a background job of a script starts with SIGINT ignored: undo that
		env --default-signal=INT ms-run --swap gen='sleep 30' --swap sort='sleep 29' "$P/output.yaml" &
		pid=$!
		for i in $(seq 50); do ls out.txt.tmp* >/dev/null 2>&1 && break; sleep 0.1; done
		ls out.txt.tmp*
		sleep 0.2
		start=$SECONDS
		kill -$sig $pid
		status=0
		wait $pid || status=$?
		[ "$status" -eq $([ $sig = INT ] && echo 130 || echo 143) ]
		[ $((SECONDS - start)) -lt 5 ]
		[ -z "$(ls)" ]
	done
}

@test "the example pipelines of ms-pipeline(5) parse; the small one runs" {
	man="$BATS_TEST_DIRNAME/../man/ms-pipeline.5"
	sed -n '/^name: words$/,/^\.Ed$/p' "$man" | sed '$d' | sed 's/\\e/\\/g' > words.yaml
	sed -n '/^name: edges$/,/^\.Ed$/p' "$man" | sed '$d' > edges.yaml
	[ -s words.yaml ] && [ -s edges.yaml ]
	run ms-run words.yaml
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '      2 apple\n      1 fig\n      1 pear')" ]
	run ms-run -n --set images=img --set masks=msk edges.yaml
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "ms-import --size 128x128 --mask-dir msk img | ms-edges --method canny --sigma 1.5 > edges.ms &&" ]
	[ "${lines[1]}" = "ms-export --dir sheet --montage sheet.png < edges.ms" ]
}

@test "the examples of ms-run(1) give the output shown" {
	man="$BATS_TEST_DIRNAME/../man/ms-run.1"
	sed -n '/^name: sort$/,/^\.Ed$/p' "$man" | sed '$d' > sort.yaml
	# each "$ command" line of the first displays after the file, and what follows it
	sed -n '/^\$ printf/,/^\.Ed$/p;/^\$ ms-run --dry-run/,/^\.Ed$/p;/^\$ ms-run --swap sort/,/^\.Ed$/p' "$man" |
		grep -v '^\.' | sed 's/\\e/\\/g' > shown
	[ "$(grep -c '^\$ ' shown)" -eq 4 ]
	while IFS= read -r line; do
		case $line in
		'$ '*) printf '%s\n' "$line"; bash -c "${line#\$ }" 2>&1 || true ;;
		esac
	done < shown > got
	diff shown got
}

@test "the edges pipeline of ms-pipeline(5) with the real tools: same bytes as by hand" {
	BUSI=$BATS_TEST_DIRNAME/data/busi
	man="$BATS_TEST_DIRNAME/../man/ms-pipeline.5"
	sed -n '/^name: edges$/,/^\.Ed$/p' "$man" | sed '$d' > edges.yaml
	mkdir img msk run sh
	for s in benign_1 benign_2 malignant_10; do
		ln -s "$BUSI/images/$s.png" img/ && ln -s "$BUSI/masks/$s.png" msk/
	done
	(cd run && ms-run --set images=../img --set masks=../msk ../edges.yaml)
	(cd sh && ms-import --size 128x128 --mask-dir ../msk ../img |
		ms-edges --method canny --sigma 1.5 > edges.ms &&
		ms-export --dir sheet --montage sheet.png < edges.ms)
	diff -r run sh
	[ "$(ms-info run/edges.ms | cut -f2 | sort | uniq -c | tr -s ' ')" = "$(printf ' 3 edges\n 3 image\n 3 mask')" ]
	[ -s run/sheet.png ] && [ -n "$(ls run/sheet)" ]
	mkdir pasted && (cd pasted && sh -c "$(ms-run -n --set images=../img --set masks=../msk ../edges.yaml)")
	diff -r run pasted
	# the --only example of ms-run(1): no variables needed for the stage run
	(cd run && ms-run --only sheet \
		--swap sheet='ms-export --dir sheet --montage sheet.png --cell 64' ../edges.yaml)
	(cd sh && ms-export --dir sheet --montage sheet.png --cell 64 < edges.ms)
	diff -r run sh
	! cmp -s run/sheet.png pasted/sheet.png
}
