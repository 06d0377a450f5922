#!/usr/bin/env bash
# Launch train_gpt2.py with a dataset's preset settings through the mytorch launcher.
#
#   bash train_gpt2.sh shakespeare                                  # GPU preset if a GPU is visible, else the CPU one
#   bash train_gpt2.sh shakespeare --num_gpus 2 --mixed_precision --fused --log_wandb
#   bash train_gpt2.sh shakespeare --num_gpus 0 --num_processes 2   # 2 CPU processes (gloo)
#   bash train_gpt2.sh owt --num_gpus 4 --mixed_precision --fused
#
# --num_gpus / --num_processes go to the launcher; every other flag goes to train_gpt2.py and
# overrides the preset (configs/*.yaml), e.g. --train_iterations 500 --resume_from_checkpoint latest.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
usage="usage: bash train_gpt2.sh shakespeare|owt [--num_gpus N] [--num_processes N] [train_gpt2.py flags...]"

if [[ $# -lt 1 ]]; then
    echo "$usage" >&2
    exit 2
fi
if [[ "$1" == -h || "$1" == --help ]]; then
    echo "$usage"
    exit 0
fi
dataset="$1"
shift

num_gpus=""
num_processes=""
extra=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        --num_gpus|--num_processes)
            if [[ $# -lt 2 || ! "$2" =~ ^[0-9]+$ ]]; then
                echo "train_gpt2.sh: $1 needs a non-negative integer, got '${2:-}'" >&2
                exit 2
            fi
            if [[ "$1" == --num_gpus ]]; then num_gpus="$2"; else num_processes="$2"; fi
            shift 2 ;;
        --num_gpus=*) num_gpus="${1#*=}"; shift ;;
        --num_processes=*) num_processes="${1#*=}"; shift ;;
        -h|--help) echo "$usage"; exit 0 ;;
        *) extra+=("$1"); shift ;;
    esac
done

has_gpu() { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; }

case "$dataset" in
    shakespeare)
        if [[ "$num_gpus" == 0 ]] || { [[ -z "$num_gpus" ]] && ! has_gpu; }; then
            config="$here/configs/shakespeare_char_cpu.yaml"
        else
            config="$here/configs/shakespeare_char.yaml"
        fi ;;
    owt) config="$here/configs/gpt2_owt.yaml" ;;
    *) echo "train_gpt2.sh: unknown dataset '$dataset'" >&2; echo "$usage" >&2; exit 2 ;;
esac

launch_flags=()
[[ -n "$num_gpus" ]] && launch_flags+=(--num_gpus "$num_gpus")
[[ -n "$num_processes" ]] && launch_flags+=(--num_processes "$num_processes")

if command -v mytorchrun >/dev/null 2>&1; then
    launcher=(mytorchrun launch)
else  # a source checkout that was never pip-installed
    launcher=("${PYTHON:-python}" -m mytorch.distributed.run launch)
    export PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}"
fi

set -x
exec "${launcher[@]}" ${launch_flags[@]+"${launch_flags[@]}"} "$here/train_gpt2.py" --config "$config" \
    ${extra[@]+"${extra[@]}"}
