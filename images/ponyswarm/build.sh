#!/usr/bin/env bash
# Builds everything compose.yaml runs, with no registry:
#   - ponyswarm itself (cargo build --release, or the binary in $PONYSWARM_BIN),
#   - the catalog images the example offers (Python 3.11 and PostgreSQL, which also
#     serves as the coordinator's database), and stable tags for them:
#     ponyswarm/postgres:latest (catalog images are otherwise tagged by content hash),
#   - ponyswarm/ponyswarm:latest, from images/ponyswarm/Dockerfile on the Debian base
#     ponyswarm made or found for bookworm.
# Usage: images/ponyswarm/build.sh [CATALOG NAME…]   (default: 3.11 postgres)
set -euo pipefail
cd "$(dirname "$0")/../.."

bin=${PONYSWARM_BIN:-}
if [ -z "$bin" ]; then
    cargo build --release -p ponyswarm
    bin=target/release/ponyswarm
fi

names=("$@")
[ ${#names[@]} -gt 0 ] || names=(3.11 postgres)
"$bin" images build "${names[@]}"

# The newest image ponyswarm built for a catalog name (the one just built or found).
newest() {
    docker images --filter "label=io.ponyswarm.image=$1" --format '{{.Repository}}:{{.Tag}}' | head -n 1
}
docker tag "$(newest postgres)" ponyswarm/postgres:latest

base=
for ref in debian:bookworm-slim ponyswarm/debian:bookworm; do
    if docker image inspect "$ref" >/dev/null 2>&1; then base=$ref; break; fi
done
[ -n "$base" ] || { echo "no Debian bookworm base: run \`ponyswarm images build 3.11\` first" >&2; exit 1; }

context=$(mktemp -d)
trap 'rm -rf "$context"' EXIT
cp "$bin" "$context/ponyswarm"
strip "$context/ponyswarm" 2>/dev/null || true
cp -r images "$context/images"
rm -rf "$context/images/ponyswarm"
cp images/ponyswarm/Dockerfile "$context/Dockerfile"
docker build --quiet --build-arg "BASE=$base" -t ponyswarm/ponyswarm:latest "$context"
echo "built ponyswarm/ponyswarm:latest on $base; ponyswarm/postgres:latest is $(newest postgres)"
