#!/usr/bin/env bash
# Builds Switchyard, starts the demo sandbox (blue/green app `web`, canary app
# `shop`) on 127.0.0.1, and walks through a blue/green release with the
# installed kubectl finding `kubectl bluegreen` on PATH.
#   scripts/demo.sh          run the walkthrough, then stop the sandbox
#   scripts/demo.sh --keep   leave the sandbox running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
[[ ${1:-} == --keep ]] && keep=true

cargo build --quiet --bin kube-sandbox --bin kubectl-bluegreen
dir=$(mktemp -d)
kubeconfig="$dir/kubeconfig"
./target/debug/kube-sandbox serve --kubeconfig "$kubeconfig" --demo >"$dir/sandbox.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [[ -s $kubeconfig ]] && break; sleep 0.1; done
[[ -s $kubeconfig ]] || { cat "$dir/sandbox.log" >&2; echo "error: kube-sandbox did not start" >&2; exit 1; }
export KUBECONFIG=$kubeconfig
export PATH="$PWD/target/debug:$PATH"

step() { printf '\n$'; printf ' %q' "$@"; printf '\n'; "$@"; }
kubectl wait --for=condition=Available deployment --all --timeout=30s >/dev/null
step kubectl bluegreen status
step kubectl bluegreen deploy web --image example/web:1.2 --wait
step kubectl bluegreen switch --reason "release 1.2"
step kubectl bluegreen status
step kubectl get endpointslices -l kubernetes.io/service-name=web
step kubectl bluegreen rollback
step kubectl bluegreen history

if $keep; then
  printf '\nThe sandbox keeps running. In another shell:\n  export KUBECONFIG=%s\nCtrl-C here stops it.\n' "$kubeconfig"
  wait $pid
fi
