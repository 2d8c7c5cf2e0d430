#!/usr/bin/env bash
# Every paper's headline variants (the claims marked headline in partreid_core/reporting/papers/*/),
# one paper after another, two runs at a time.
#   scratch (cpu profile): seeds 3 and 4 beside the sweeps' seeds 0-2
#     OMP_NUM_THREADS=1 nohup bash scripts/headline_seeds.sh > headline.log 2>&1 &
#   fine-tuned (cpu-ft profile, records under results/fine-tuned): all five seeds
#     REGIME=fine-tuned OMP_NUM_THREADS=1 nohup bash scripts/headline_seeds.sh > headline-ft.log 2>&1 &
#   PAPERS="pal plr_osnet" restricts either to some papers, in that order.
# Finished runs are skipped, interrupted ones resume: run it again until it prints nothing to do.
# The fine-tuned regime needs its trunks first (the error of a missing one prints the command):
#   partreid pretrain --backbone resnet50 --width 0.25 --profile cpu
#   partreid pretrain --backbone osnet_x0_25 --profile cpu
# and MPN's IDE stage before MPN (the mpn_ide recipe initialises MPN, as the paper's two-stage training does):
#   for s in 0 1 2 3 4; do partreid train --recipe mpn_ide --profile cpu-ft --seed $s --out results/fine-tuned; done
set -u
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
S=partreid_core/experiments/sweeps
case "${REGIME:-scratch}" in
  scratch) PROFILE=(); SEEDS=(3 4) ;;
  fine-tuned) PROFILE=(--profile cpu-ft); SEEDS=(0 1 2 3 4) ;;
  *) echo "REGIME must be scratch or fine-tuned, got ${REGIME}" >&2; exit 2 ;;
esac
run() { partreid sweep "$@" "${PROFILE[@]}" --seeds "${SEEDS[@]}" --workers "${WORKERS:-2}" --device cpu; }
for paper in ${PAPERS:-plr_osnet pal cgpn mpn rmgl}; do
  case "$paper" in
    plr_osnet) run $S/plr_osnet/p1_core.yaml $S/plr_osnet/p2_ablations.yaml \
                   --only plr_osnet osnet local_only multiple_id no_attention ;;
    pal) run $S/pal/p1_globalpool.yaml $S/pal/p1_pcb.yaml $S/pal/p2_mgn.yaml \
             --only globalpool globalpool_ps pcb pcb_ps mgn mgn_ps ;;
    cgpn) run $S/cgpn/p1_supervision.yaml $S/cgpn/p2_ablation.yaml $S/cgpn/p2_mgn.yaml \
              --only cgpn cgpn4_unsup cgpn2_fine cgpn1_noloc cgpn3_noglob mgn ;;
    mpn) run $S/mpn/p1_t1.yaml $S/mpn/p2_t1.yaml --only baseline mt_only mpn mpn_noca c1s_c2s ;;
    rmgl) run $S/rmgl/p1_rp.yaml $S/rmgl/p2_rsa.yaml $S/rmgl/p2_partition.yaml \
              --only rmgl op-baseline rmgl-no-rsa only-rp ip ;;
    *) echo "unknown paper $paper (plr_osnet, pal, cgpn, mpn, rmgl)" >&2; exit 2 ;;
  esac
done
