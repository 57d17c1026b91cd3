#!/usr/bin/env bash
# The cost of isolation, measured in one go on this machine:
#   1. ponyswarm's time per trivial job against the plain docker CLI doing the same
#      container work (create, start, wait, rm) in the same image;
#   2. a 12-job matrix of matrix/projects/pony-lib (3.9, 3.11, 3.13, PyPy x 3 variants):
#      ponyswarm warm against its own cold run (wheelhouses, environment images and
#      their venv volumes removed first), a warm rerun after one test file changed
#      (ROUNDS alternating pairs of warm and edited runs), and `tox -p` running
#      the same tests on the host without isolation;
#   3. ponyswarm's peak memory (max RSS) during a 50-job run.
#
# Usage: bench/run.sh            (from anywhere; needs Docker, python3.9/3.11/3.13 and
#                                 pypy3 on PATH or under ~/.pyenv, and PyPI for tox and
#                                 pytest)
# Knobs:  N=10 (trivial jobs in each of ROUNDS=3 rounds, each way; ROUNDS also counts the
#         warm/edited pairs), BIG=50 (jobs in the memory run),
#         PONYSWARM=path/to/ponyswarm (default: a release build, made if missing),
#         TRIVIAL_ONLY=1 (part 1 alone).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
N=${N:-10}
ROUNDS=${ROUNDS:-3}
BIG=${BIG:-50}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ponyswarm-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
export PONYSWARM_DATABASE="sqlite://$WORK/bench.db"

if [[ -z "${PONYSWARM:-}" ]]; then
  cargo build --release -p ponyswarm --manifest-path "$ROOT/Cargo.toml" >&2
  PONYSWARM="$ROOT/target/release/ponyswarm"
fi
TIME=/usr/bin/time
[[ -x $TIME ]] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

# Seconds since the epoch, with fractions.
now() { date +%s.%N; }
# $1 / $2, to two decimals.
ratio() { python3 -c "print(f'{$1 / $2:.2f}')"; }
# $1 - $2, to two decimals.
minus() { python3 -c "print(f'{$1 - $2:.2f}')"; }
per() { python3 -c "print(f'{$1 / $2:.2f}')"; }

# Runs a matrix file quietly into $WORK/report-$2; a failed job fails the bench.
swarm() {
  "$PONYSWARM" run "$1" --quiet --report-dir "$WORK/report-$2" >"$WORK/$2.out" 2>&1 \
    || { cat "$WORK/$2.out" >&2; echo "bench: ponyswarm run $2 failed" >&2; exit 1; }
}

echo "bench: scratch in $WORK" >&2

# --- 1. Per-job overhead against the docker CLI ---------------------------------------
mkdir -p "$WORK/trivial"
echo 'print("ok")' >"$WORK/trivial/noop.py"
{
  echo "name: bench-trivial"
  echo 'python: "3.11"'
  echo "matrix:"
  echo "  i: [$(seq -s, 1 "$N")]"
  echo "test: python noop.py"
  echo "max-parallel: 1"
} >"$WORK/trivial/ponyswarm.yaml"
swarm "$WORK/trivial/ponyswarm.yaml" warmup-trivial  # images resolved, wheelhouse made
IMAGE=$(docker images ponyswarm/python-3.11 --format '{{.Repository}}:{{.Tag}}' | head -n1)
# The same confinement as a ponyswarm job: read-only root, a 2 GiB tmpfs work area (an
# anonymous volume, removed with the container), tmpfs home and /tmp, memory + disk.
AREA='type=volume,dst=/work,volume-driver=local,volume-nocopy,volume-opt=type=tmpfs'
AREA+=',volume-opt=device=tmpfs,"volume-opt=o=size=2g,nosuid,nodev,mode=0755,uid=1000,gid=1000"'
docker_jobs() {
  for _ in $(seq "$N"); do
    id=$(docker create --network none --user 1000:1000 --cap-drop ALL \
      --security-opt no-new-privileges --memory 4g --memory-swap 4g --cpus 1 \
      --pids-limit 512 --init --read-only --mount "$AREA" \
      --tmpfs /home/pony:rw,exec,nosuid,nodev,size=512m,mode=0755,uid=1000,gid=1000 \
      --tmpfs /tmp:rw,exec,nosuid,nodev,size=512m,mode=1777 \
      "$IMAGE" python -c 'print("ok")')
    docker start -a "$id" >/dev/null
    docker wait "$id" >/dev/null
    docker rm -v "$id" >/dev/null
  done
}
# ROUNDS rounds, each the docker CLI's N jobs then ponyswarm's: both see the same
# spells of load from the rest of the machine, and the totals are compared.
docker_s=0 swarm_s=0
for round in $(seq "$ROUNDS"); do
  t0=$(now)
  docker_jobs
  docker_s=$(python3 -c "print($docker_s + $(now) - $t0)")
  t0=$(now)
  swarm "$WORK/trivial/ponyswarm.yaml" "trivial-$round"
  swarm_s=$(python3 -c "print($swarm_s + $(now) - $t0)")
done
TRIVIAL=$((N * ROUNDS))
if [[ -n "${TRIVIAL_ONLY:-}" ]]; then
  echo "1. trivial job: docker CLI $(per "$docker_s" "$TRIVIAL")s/job, ponyswarm $(per "$swarm_s" "$TRIVIAL")s/job -> $(ratio "$swarm_s" "$docker_s")x (goal <= 1.3x)"
  exit 0
fi

# --- 2. A 12-job matrix: cold, warm, and tox -p on the host ---------------------------
cp -r "$ROOT/matrix/projects/pony-lib" "$WORK/pony-lib"
cat >"$WORK/pony-lib/ponyswarm.yaml" <<'YAML'
name: bench-pony-lib
matrix:
  python: ["3.9", "3.11", "3.13", "pypy3"]
  variant: [a, b, c]
install:
  - pip install -e .[test]
test: python -m pytest -q
max-parallel: 2
YAML
# Learn which wheelhouse volumes the project uses, then remove them: the next run is cold.
swarm "$WORK/pony-lib/ponyswarm.yaml" discover
python3 - "$WORK/report-discover/results.json" >"$WORK/volumes" <<'PY'
import json, re, sys
logs = "\n".join(j["log"] for j in json.load(open(sys.argv[1]))["jobs"])
print("\n".join(sorted(set(re.findall(r"wheelhouse (ponyswarm-wheels-[0-9a-f]+)", logs)))))
PY
python3 - "$WORK/report-discover/results.json" >"$WORK/envs" <<'PY'
import json, re, sys
logs = "\n".join(j["log"] for j in json.load(open(sys.argv[1]))["jobs"])
print("\n".join(sorted(set(re.findall(r"environment (ponyswarm/env:[0-9a-f]+)", logs)))))
PY
# Each environment image names the volume its venv is kept in: both go.
xargs -r docker image inspect --format '{{index .Config.Labels "io.ponyswarm.env.venv-volume"}}' \
  <"$WORK/envs" >>"$WORK/volumes" 2>/dev/null || true
# A volume or image another run is using stays (and that run stays unharmed).
xargs -r docker rmi <"$WORK/envs" >/dev/null 2>&1 || true
xargs -r docker volume rm <"$WORK/volumes" >/dev/null 2>&1 || true
t0=$(now)
swarm "$WORK/pony-lib/ponyswarm.yaml" cold
cold_s=$(minus "$(now)" "$t0")
# ROUNDS rounds, each a warm rerun of unchanged source then one after a test file was
# edited (the environments stay, only the tests see the change): both see the same
# spells of load, and the means are compared.
warm_total=0 edited_total=0
for round in $(seq "$ROUNDS"); do
  t0=$(now)
  swarm "$WORK/pony-lib/ponyswarm.yaml" "warm-$round"
  warm_total=$(python3 -c "print($warm_total + $(now) - $t0)")
  printf '\n\ndef test_bench_edit_%s():\n    assert True\n' "$round" \
    >>"$(ls "$WORK"/pony-lib/tests/test_*.py | head -n1)"
  t0=$(now)
  swarm "$WORK/pony-lib/ponyswarm.yaml" "edited-$round"
  edited_total=$(python3 -c "print($edited_total + $(now) - $t0)")
done
warm_s=$(per "$warm_total" "$ROUNDS")
edited_s=$(per "$edited_total" "$ROUNDS")

for v in 3.9 3.11 3.13 pypy3; do
  for d in "$HOME"/.pyenv/versions/"$v".*/bin; do [[ -d $d ]] && PATH="$d:$PATH"; done
done
python3 -m venv "$WORK/tox-venv"
"$WORK/tox-venv/bin/pip" install -q tox >&2
cat >"$WORK/pony-lib/tox.ini" <<'INI'
[tox]
env_list = p{39,311,313,py3}-{a,b,c}
[testenv]
base_python =
    p39: python3.9
    p311: python3.11
    p313: python3.13
    ppy3: pypy3
extras = test
package = editable
commands = python -m pytest -q
INI
t0=$(now)
(cd "$WORK/pony-lib" && "$WORK/tox-venv/bin/tox" -p 2 -q >"$WORK/tox-cold.out" 2>&1) \
  || { cat "$WORK/tox-cold.out" >&2; echo "bench: tox failed" >&2; exit 1; }
tox_cold_s=$(minus "$(now)" "$t0")
t0=$(now)
(cd "$WORK/pony-lib" && "$WORK/tox-venv/bin/tox" -p 2 -q >"$WORK/tox.out" 2>&1) \
  || { cat "$WORK/tox.out" >&2; echo "bench: tox failed" >&2; exit 1; }
tox_s=$(minus "$(now)" "$t0")

# --- 3. Peak memory during a big run --------------------------------------------------
mkdir -p "$WORK/big"
cp "$WORK/trivial/noop.py" "$WORK/big/"
sed -e "s/^  i: .*/  i: [$(seq -s, 1 "$BIG")]/" -e 's/max-parallel: 1/max-parallel: 2/' \
  "$WORK/trivial/ponyswarm.yaml" >"$WORK/big/ponyswarm.yaml"
t0=$(now)
$TIME -v "$PONYSWARM" run "$WORK/big/ponyswarm.yaml" --quiet --report-dir "$WORK/report-big" \
  >"$WORK/big.out" 2>"$WORK/big.time" || { cat "$WORK/big.time" >&2; exit 1; }
big_s=$(minus "$(now)" "$t0")
rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/big.time")

# "$1 / $2 = ratio  (goal <= $3x: ok|MISSED)"
goal() { python3 -c "r = $1 / $2; print(f'{r:.2f}x  (goal <= $3x: ' + ('ok' if r <= $3 else 'MISSED') + ')')"; }

cat <<REPORT
ponyswarm bench ($(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs, $("$PONYSWARM" --version 2>/dev/null || echo ponyswarm))
1. trivial job, $N one at a time, $ROUNDS rounds:  docker CLI $(per "$docker_s" "$TRIVIAL")s/job, ponyswarm $(per "$swarm_s" "$TRIVIAL")s/job
   -> ponyswarm / docker CLI $(goal "$swarm_s" "$docker_s" 1.3)
2. pony-lib, 12 jobs (PyPy included), 2 at once: ponyswarm warm ${warm_s}s, cold ${cold_s}s,
   warm after a test-file edit ${edited_s}s (warm and edited: means of $ROUNDS alternating runs);
   tox -p 2 on the host: envs reused ${tox_s}s, envs made ${tox_cold_s}s
   -> warm / tox reused      $(goal "$warm_s" "$tox_s" 1.0)
   -> cold / tox made        $(goal "$cold_s" "$tox_cold_s" 1.0)
   -> edited / warm          $(goal "$edited_s" "$warm_s" 1.1)
3. $BIG trivial jobs, 2 at once:      ${big_s}s, ponyswarm peak RSS $(python3 -c "print(f'{$rss_kb / 1024:.1f}')") MiB  (goal < 100 MiB)
REPORT
