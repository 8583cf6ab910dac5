#!/usr/bin/env bash
# Fine-tune on NSMC with the accelerate config for this machine.
#   bash run_nsmc.sh gpu [flags...]   one GPU (fp16), batch 32
#   bash run_nsmc.sh tpu [flags...]   TPU v2-8, 4 per core x 8 cores = 32
#   bash run_nsmc.sh cpu [flags...]   CPU only
#   bash run_nsmc.sh smoke            check the installation in under a minute (CPU, no network, no files)
#   bash run_nsmc.sh serve --model DIR_OR_HUB_ID [nsmc-serve flags...]   the web demo and JSON API
# Flags are run_nsmc.py's (see README.md), e.g. --data_dir, --output_dir, --model_name_or_path.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
target="${1:-gpu}"
shift || true
# On the CPU, accelerate picks one thread per physical core and prints a "values were not passed"
# note saying so; passing the same number (or OMP_NUM_THREADS) keeps the console quiet.
cpu_threads() {
  echo "${OMP_NUM_THREADS:-$(python3 -c 'import psutil; print(psutil.cpu_count(logical=False) or 1)' 2>/dev/null || nproc)}"
}
launcher=()
case "$target" in
  serve) exec nsmc-serve "$@" ;;
  gpu) config=single_gpu.yaml; defaults=() ;;
  tpu) config=tpu_v2-8.yaml; defaults=(--per_device_train_batch_size 4 --per_device_eval_batch_size 4) ;;
  cpu) config=cpu.yaml; defaults=(); launcher=(--num_cpu_threads_per_process "$(cpu_threads)") ;;
  smoke) config=cpu.yaml; defaults=(--smoke_test); launcher=(--num_cpu_threads_per_process "$(cpu_threads)") ;;
  *) echo "usage: bash run_nsmc.sh [gpu|tpu|cpu|smoke] [run_nsmc.py flags...] | bash run_nsmc.sh serve [nsmc-serve flags...]" >&2; exit 2 ;;
esac
exec accelerate launch --config_file "$here/accelerate_configs/$config" "${launcher[@]}" "$here/run_nsmc.py" "${defaults[@]}" "$@"
