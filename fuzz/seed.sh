#!/usr/bin/env bash
# Seeds the fuzz corpora from ../shared/corpus/cases (the parity cases) and a sample of the
# benchmark generator's data. Run from anywhere; the corpora are not committed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
shared="$here/../../shared"
if [ ! -d "$shared/corpus/cases" ]; then
  echo "seed.sh: ../shared/corpus is absent; fuzzing starts from an empty corpus" >&2
  exit 0
fi
for t in request differential stream pipeline policies checkonly; do
  mkdir -p "$here/corpus/$t"
  for f in "$shared"/corpus/cases/*/*.lp "$shared"/corpus/cases/*/*.gz; do
    size=$(stat -c %s "$f")
    [ "$size" -le 200000 ] || continue
    name=$(basename "$f")
    # request: first byte 0 = plain body, 1 = gzip; stream: the same, then a chunking seed
    case "$t:$name" in
      request:*.gz) { printf '\001'; cat "$f"; } > "$here/corpus/$t/$name" ;;
      stream:*.gz) { printf '\001\007'; cat "$f"; } > "$here/corpus/$t/$name" ;;
      stream:*) { printf '\000\007'; cat "$f"; } > "$here/corpus/$t/$name" ;;
      request:*) { printf '\000'; cat "$f"; } > "$here/corpus/$t/$name" ;;
      # pipeline: control byte, query, 0xff, Authorization, 0xff, body
      pipeline:*.gz) { printf '\004org=o&bucket=b\377Token w\377'; cat "$f"; } > "$here/corpus/$t/$name" ;;
      pipeline:*) { printf '\001db=b&precision=h\377Token w\377'; cat "$f"; } > "$here/corpus/$t/$name" ;;
      *) cp "$f" "$here/corpus/$t/$name" ;;
    esac
  done
  for ds in telegraf escape; do
    python3 "$shared/bench/gen.py" --stdout "$ds" --size-mb 0.004 > "$here/corpus/$t/bench-$ds.lp"
  done
done
echo "seeded $(ls "$here/corpus/request" | wc -l) inputs per target"
