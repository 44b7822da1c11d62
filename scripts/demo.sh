#!/usr/bin/env bash
# Builds Switchyard, starts the demo sandbox (blue/green app `web`, canary app
# `shop`) on 127.0.0.1, and walks through a blue/green release and a canary
# release with the installed kubectl finding `kubectl bluegreen` and
# `kubectl canary` on PATH.
#   scripts/demo.sh          run the walkthrough, then stop the sandbox
#   scripts/demo.sh --keep   then leave the sandbox running until Ctrl-C, and
#                            print the two exports a second shell needs
set -euo pipefail
cd "$(dirname "$0")/.."

keep=false
case ${1:-} in
  --keep) keep=true ;;
  "") ;;
  *) echo "error: unknown argument ${1}" >&2; echo "hint: usage: scripts/demo.sh [--keep]" >&2; exit 2 ;;
esac

command -v cargo >/dev/null || { echo "error: cargo is not installed" >&2; echo "hint: install a Rust toolchain: https://rustup.rs" >&2; exit 1; }
command -v kubectl >/dev/null || { echo "error: kubectl is not installed; the demo runs it against the sandbox" >&2; echo "hint: install kubectl 1.26 or newer: https://kubernetes.io/docs/tasks/tools/#kubectl" >&2; exit 1; }

# Every binary: the sandbox, both kubectl plugins and the Jenkins steps.
# Cargo's own progress (Compiling ...) shows; a first build takes minutes.
echo "==> building kube-sandbox, kubectl-bluegreen, kubectl-canary and the Jenkins steps (deploy-*) (debug; the first build takes a few minutes)" >&2
cargo build --bins -p kube-sandbox -p kubectl-bluegreen -p kubectl-canary -p jenkins-steps
bin="$PWD/target/debug"

dir=$(mktemp -d)
kubeconfig="$dir/kubeconfig"
echo "==> starting kube-sandbox --demo (log: $dir/sandbox.log)" >&2
"$bin/kube-sandbox" serve --kubeconfig "$kubeconfig" --demo >"$dir/sandbox.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 100); do [[ -s $kubeconfig ]] && break; sleep 0.1; done
[[ -s $kubeconfig ]] || { cat "$dir/sandbox.log" >&2; echo "error: kube-sandbox did not start" >&2; exit 1; }
# The binaries on PATH through a directory of their own: target/debug also
# holds kubectl-*.d dep-info files that `kubectl plugin list` would warn about.
mkdir "$dir/bin"
for b in kube-sandbox kubectl-bluegreen kubectl-canary deploy-health-wait deploy-switch deploy-weight deploy-rollback deploy-notify; do
  ln -s "$bin/$b" "$dir/bin/$b"
done
export KUBECONFIG=$kubeconfig
export PATH="$dir/bin:$PATH"

# Shows each command as one would type it (quoted only where the shell needs it), then runs it.
shown() { if [[ $1 =~ ^[A-Za-z0-9_./:=,%@+-]+$ ]]; then printf ' %s' "$1"; else printf " '%s'" "${1//\'/\'\\\'\'}"; fi; }
step() { printf '\n$'; for a in "$@"; do shown "$a"; done; printf '\n'; "$@"; }
kubectl wait --for=condition=Available deployment --all --timeout=30s >/dev/null

echo >&2
echo "==> a blue/green release of web" >&2
step kubectl bluegreen status
step kubectl bluegreen deploy web --image example/web:1.2 --wait
step kubectl bluegreen switch --reason "release 1.2"
step kubectl bluegreen status
step kubectl get endpointslices -l kubernetes.io/service-name=web
step kubectl bluegreen rollback
step kubectl bluegreen history

echo >&2
echo "==> a canary release of shop (HTTPRoute weights)" >&2
step kubectl canary status
step kubectl canary deploy shop --image example/shop:1.2 --wait
step kubectl canary set 10 shop
step kubectl canary ramp shop --steps 25,50,100 --pause 1s --http /healthz --promote
step kubectl canary status
step kubectl get httproute shop -o 'jsonpath={range .spec.rules[0].backendRefs[*]}{.name}={.weight}{" "}{end}'
echo

if $keep; then
  printf '\nThe sandbox keeps running. In another shell:\n'
  printf '  export KUBECONFIG=%q\n' "$kubeconfig"
  printf '  export PATH=%q:"$PATH"\n' "$dir/bin"
  printf '  kubectl bluegreen status; kubectl canary status; deploy-switch --help\n'
  printf 'Ctrl-C here stops it.\n'
  wait $pid
fi
