#!/usr/bin/env bash
# The mutation-testing pass of issue 11 item 32, as docs/mutation.md reports it.
#
#   bash tools/mutation.sh                               # generate the mutants, run them all
#   bash tools/mutation.sh 'losskit._core.reduction*'    # only the mutants whose names match
#   bash tools/mutation.sh results                       # what survived (then: mutmut show NAME)
#
# Scope and test selection live in pyproject.toml under [tool.mutmut]; mutmut (3.8.1) must be installed
# in the environment that runs the tests, and works in ./mutants (ignored by git; delete it for a fresh
# pass: results are kept per mutant between runs). Niced, and two children at most: it shares small
# machines with other work.
set -euo pipefail
cd "$(dirname "$0")/.."
export KERAS_BACKEND=torch

if [ "${1:-}" = "results" ]; then
  exec nice -n 15 mutmut results
fi
exec nice -n 15 mutmut run --max-children "${MUTMUT_CHILDREN:-2}" "$@"
