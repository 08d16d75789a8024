#!/usr/bin/env bash
# AlgoBot on Linux/macOS: find Python 3.12, then set up .venv and run a job (see tools/bootstrap.py).
#   ./run.sh pipeline [--full] [--tasks 'EURUSD_*'] ...   main job: the notebooks on the bundled data -> reports/
#   ./run.sh test                                          every test: nbdev-test over nbs/ and pytest tests/
#   ./run.sh study [--full] [--workers N] [--address A]    the walk-forward study alone (--full: reports/full/, resumable)
#   ./run.sh study --portfolio [--full]                    the portfolio study (22_portfolio_study; --full: reports/portfolio/)
#   ./run.sh docs                                          documentation site from nbs/ -> _docs/index.html
#   ./run.sh tensorboard [--port 6006]                     serve the training logs (RUNS_DIR, runs/) on 127.0.0.1
#   ./run.sh setup | lab                                   set up only | open JupyterLab on nbs/
#   ./run.sh dashboard [--state FILE] [--log FILE] ...     serve a running trader's oversight dashboard (127.0.0.1)
set -euo pipefail
cd "$(dirname "$0")"

is312() { "$@" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 12))' >/dev/null 2>&1; }

find_python312() {
  if [ -n "${ALGOBOT_PYTHON:-}" ]; then
    is312 "$ALGOBOT_PYTHON" && { echo "$ALGOBOT_PYTHON"; return; }
    echo "run.sh: ALGOBOT_PYTHON=$ALGOBOT_PYTHON is not a working Python 3.12" >&2; return 1
  fi
  if [ -x .venv/bin/python ] && is312 .venv/bin/python; then
    # an existing venv's interpreter is a symlink to a real 3.12: use that one
    local base; base=$(.venv/bin/python -c 'import sys; print(sys._base_executable)')
    is312 "$base" && { echo "$base"; return; }
  fi
  is312 python3.12 && { echo python3.12; return; }
  local roots=()
  command -v pyenv >/dev/null 2>&1 && roots+=("$(pyenv root)")
  roots+=("${PYENV_ROOT:-$HOME/.pyenv}")
  for r in "${roots[@]}"; do
    for p in "$r"/versions/3.12*/bin/python; do
      [ -x "$p" ] && is312 "$p" && { echo "$p"; return; }
    done
  done
  is312 python3 && { echo python3; return; }
  return 1
}

if ! PY=$(find_python312); then
  cat >&2 <<'EOF'
run.sh: AlgoBot needs Python 3.12 (pandas-ta has no release for older Pythons) and none was found.
Tried: $ALGOBOT_PYTHON, python3.12, $(pyenv root)/versions/3.12*/bin/python, python3.
Get one with `pyenv install 3.12` (https://github.com/pyenv/pyenv) or from https://www.python.org/downloads/,
or point ALGOBOT_PYTHON at a 3.12 interpreter. On Windows run `py -3.12 tools\bootstrap.py <job>` instead.
EOF
  exit 2
fi
exec "$PY" tools/bootstrap.py "$@"
