#!/usr/bin/env bash
# Builds Switchyard, starts the demo sandbox (blue/green app `web`, canary app
# `shop`) on 127.0.0.1, and shows it with the installed kubectl.
#   scripts/demo.sh          run the walkthrough, then stop the sandbox
#   scripts/demo.sh --keep   leave the sandbox running until Ctrl-C
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
[[ ${1:-} == --keep ]] && keep=true

cargo build --quiet --bin kube-sandbox
dir=$(mktemp -d)
kubeconfig="$dir/kubeconfig"
./target/debug/kube-sandbox serve --kubeconfig "$kubeconfig" --demo >"$dir/sandbox.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [[ -s $kubeconfig ]] && break; sleep 0.1; done
[[ -s $kubeconfig ]] || { cat "$dir/sandbox.log" >&2; echo "error: kube-sandbox did not start" >&2; exit 1; }
export KUBECONFIG=$kubeconfig
cache=(--cache-dir "$dir/cache")

step() { printf '\n$ %s\n' "$*"; "$@"; }
step kubectl "${cache[@]}" rollout status deploy/web-blue --timeout=30s
step kubectl "${cache[@]}" get deploy,svc
step kubectl "${cache[@]}" get endpointslices -l kubernetes.io/service-name=web
step kubectl "${cache[@]}" get httproute shop -o jsonpath='{range .spec.rules[0].backendRefs[*]}{.name}={.weight}{"\n"}{end}'

if $keep; then
  printf '\nThe sandbox keeps running. In another shell:\n  export KUBECONFIG=%s\nCtrl-C here stops it.\n' "$kubeconfig"
  wait $pid
fi
