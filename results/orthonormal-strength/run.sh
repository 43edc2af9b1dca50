#!/usr/bin/env bash
# Strength sweep of the orthonormality step on the 12-bit net (training only, seed 1):
# runs configs/alpha-A.ini into alpha-A/ (two alphas at a time) and writes summary.txt, the final
# clean accuracies beside the unconstrained net's (results/szt-tanh, seed 1). Usage (from the repository root):
#   results/orthonormal-strength/run.sh [ALPHA ...]   (default: 0.00001 0.00003 0.0001 0.0003 0.001 0.003)
set -euo pipefail
D=results/orthonormal-strength
BIN=${BIN:-build/infoflow}
alphas=("$@")
((${#alphas[@]})) || alphas=(0.00001 0.00003 0.0001 0.0003 0.001 0.003)
run() { # an interrupted run is resumed
    local resume=()
    [[ -f $D/alpha-$1/config.ini ]] && resume=(--resume)
    "$BIN" run "$D/configs/alpha-$1.ini" --out "$D/alpha-$1" "${resume[@]}" --quiet >"$D/alpha-$1.log" 2>&1
}
i=0
for a in "${alphas[@]}"; do
    want=$(awk -F' *= *' '$1 == "epochs" && !done { print $2; done = 1 }' "$D/configs/alpha-$a.ini")
    [[ -f $D/alpha-$a/metrics.csv && $(tail -1 "$D/alpha-$a/metrics.csv" | cut -d, -f1) = "$want" ]] &&
        continue # complete
    run "$a" &
    (((++i) % 2)) || wait
done
wait
# summary.txt: clean (noiseless) accuracies at the last epoch and averaged over the last 10% of
# the epochs (metrics.csv columns train_acc_clean, test_acc_clean), one line per alpha; seconds:
# the sum of metrics.csv's per-epoch training seconds (not wall clock)
{
    echo "machine: $(nproc) vCPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'); load: $(uptime | sed 's/.*load/load/')"
    printf '%-8s %6s %10s %10s %14s %14s %8s\n' alpha epoch train_last test_last train_last10% test_last10% seconds
    # alpha = 0 is the committed results/szt-tanh (same seed): a training-only run of it gives the
    # same metrics.csv rows (checked on its first 1559 epochs), so it is not rerun
    for a in 0 "${alphas[@]}"; do
        m=$D/alpha-$a/metrics.csv
        [[ $a = 0 ]] && m=results/szt-tanh/metrics.csv
        [[ -f $m ]] || continue
        awk -F, -v a="$a" 'NR > 1 { e[NR] = $1; tr[NR] = $7; te[NR] = $9; s += $10; n = NR }
            END { k = int((n - 1) / 10); if (k < 1) k = 1
                  for (i = n - k + 1; i <= n; i++) { st += tr[i]; se += te[i] }
                  printf "%-8s %6d %10.4f %10.4f %14.4f %14.4f %8.0f\n", a, e[n], tr[n], te[n], st / k, se / k, s }' "$m"
    done
} >"$D/summary.txt"
cat "$D/summary.txt"
