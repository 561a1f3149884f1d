#!/usr/bin/env bash
# The layers stay layers: proto/ includes nothing of the project outside proto/; common/ nothing
# of tracker/ or peer/; peer/ nothing of tracker/ and tracker/ nothing of peer/. Prints each
# offending line and fails; the build's target dependencies say the same for linking.
set -uo pipefail
root=${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
cd "$root"
status=0
check() {  # dir, forbidden include pattern
  local hits
  hits=$(grep -nE "#include \"($2)/" "$1"/*.hpp "$1"/*.cpp 2>/dev/null)
  if [[ -n "$hits" ]]; then
    echo "layering: $1/ must not include $2/:"
    echo "$hits"
    status=1
  fi
}
check proto 'common|tracker|peer|tests'
check common 'tracker|peer|tests'
check peer 'tracker|tests'
check tracker 'peer|tests'
[[ $status -eq 0 ]] && echo "layering: proto <- common <- {tracker, peer}: no include crosses a layer"
exit $status
