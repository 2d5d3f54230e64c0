#!/usr/bin/env bash
# Before/after in one run: the black-box workload against two checkouts of this project, taking
# turns, each on its own fresh PostgreSQL database, so that both meet the same machine state.
#
#   bench/compare.sh BEFORE_DIR AFTER_DIR [ROUNDS]
#
# Each directory is a checkout with its own .venv (`make .venv/.installed-run` in it). Per round
# and per checkout: `crm serve` (inline projection, gunicorn) and `crm worker -c 2` on Redis;
# seed 1,000 customers x 1 visit, 20 s of add_visit at 8 clients, then 5,000 more customers and
# one campaign to all of them (console backend). Every figure is the workload's RESULT line,
# collected in bench/results/compare-<time>.jsonl. Loops are bounded by the workload's limits.
set -euo pipefail

BEFORE=$(cd "$1" && pwd) AFTER=$(cd "$2" && pwd) ROUNDS=${3:-3}
HERE=$(cd "$(dirname "$0")" && pwd)
WORKLOAD=${WORKLOAD:-$HERE/../../shared/bench/workload.py}
PG=${PG:-postgresql+psycopg2://postgres@127.0.0.1:5432}
OUT=$HERE/results/compare-$(date -u +%Y%m%dT%H%M%S).jsonl
mkdir -p "$HERE/results"

run_one() {  # run_one LABEL DIR ROUND
  local label=$1 dir=$2 round=$3 db="crm_cmp_${1}_${3}" port=$((8600 + RANDOM % 300))
  # From inside the checkout: `python -m crm` imports the package of the current directory first,
  # so run from anywhere else it would measure that directory's code, not the checkout's.
  cd "$dir"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" -c "CREATE DATABASE $db"
  export DATABASE_URL="$PG/$db" SECRET_KEY=bench LOG_LEVEL=WARNING PORT=$port
  export CELERY_BROKER_URL=redis://127.0.0.1:6379/12
  redis-cli -n 12 flushdb >/dev/null
  "$dir/.venv/bin/python" -m crm migrate
  local key; key=$("$dir/.venv/bin/python" -m crm apikey create --name bench --admin)
  "$dir/.venv/bin/python" -m crm serve >/dev/null 2>&1 & local serve=$!
  "$dir/.venv/bin/python" -m crm worker -c 2 >/dev/null 2>&1 & local worker=$!
  for _ in $(seq 1 60); do curl -sf "http://127.0.0.1:$port/api/openapi.json" >/dev/null && break; sleep 0.5; done
  local w=(python3 "$WORKLOAD" --base-url "http://127.0.0.1:$port" --token "$key")
  local tmp; tmp=$(mktemp -d)  # the workload reads a state file that exists: start with none
  record() { sed -n 's/^RESULT //p' | python3 -c \
    "import json,sys; r=json.load(sys.stdin); r.update(label='$label', round=$round, step='$1'); print(json.dumps(r))" >>"$OUT"; }
  "${w[@]}" seed -n 1000 -m 1 -c 8 --state "$tmp/visits.json" | record seed
  "${w[@]}" visits --state "$tmp/visits.json" -c 8 --duration 20 | record visits
  "${w[@]}" seed -n 5000 -m 0 -c 8 --state "$tmp/campaign.json" | record seed5000
  "${w[@]}" campaign --state "$tmp/campaign.json" --segment-type high_spenders --segment-value 0 \
    --poll-interval 0.1 | record campaign
  kill "$serve" "$worker"; wait "$serve" "$worker" 2>/dev/null || true
  rm -rf "$tmp"
  psql -h 127.0.0.1 -U postgres -d postgres -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)"
}

for round in $(seq 1 "$ROUNDS"); do
  if (( round % 2 )); then order="before after"; else order="after before"; fi
  for label in $order; do
    if [ "$label" = before ]; then run_one before "$BEFORE" "$round"; else run_one after "$AFTER" "$round"; fi
  done
done
echo "results: $OUT" >&2
python3 - "$OUT" <<'PY'
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
figures = {
    "customers/s (seed 1,000)": ("seed", lambda r: r["customers_req_per_s"]),
    "visits ok/s": ("visits", lambda r: r["ok_per_s"]),
    "visits p50 ms": ("visits", lambda r: r["latency"]["p50_ms"]),
    "visits p99 ms": ("visits", lambda r: r["latency"]["p99_ms"]),
    "campaign outreach/s": ("campaign", lambda r: r["events_per_s"]),
}
for name, (step, get) in figures.items():
    for label in ("before", "after"):
        values = [get(r) for r in rows if r["label"] == label and r["step"] == step]
        if values:
            print(f"{name:<26} {label:<6} median {statistics.median(values):>8}  runs {values}")
PY
