#!/usr/bin/env bash
# Seeds 3 and 4 of every paper's headline variants (the claims marked headline in
# partreid_core/reporting/papers/*.py), one paper after another, two runs at a time on the cpu profile.
# Finished runs are skipped, interrupted ones resume: run it again until it prints nothing to do.
#   OMP_NUM_THREADS=1 nohup bash scripts/headline_seeds.sh > headline.log 2>&1 &
set -u
cd "$(dirname "$0")/.."
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
S=partreid_core/experiments/sweeps
run() { partreid sweep "$@" --seeds 3 4 --workers "${WORKERS:-2}" --device cpu; }
run $S/plr_osnet/p1_core.yaml $S/plr_osnet/p2_ablations.yaml --only plr_osnet osnet local_only multiple_id no_attention
run $S/pal/p1_globalpool.yaml $S/pal/p1_pcb.yaml $S/pal/p2_mgn.yaml --only globalpool globalpool_ps pcb pcb_ps mgn mgn_ps
run $S/cgpn/p1_supervision.yaml $S/cgpn/p2_ablation.yaml $S/cgpn/p2_mgn.yaml \
    --only cgpn cgpn4_unsup cgpn2_fine cgpn1_noloc cgpn3_noglob mgn
run $S/mpn/p1_t1.yaml $S/mpn/p2_t1.yaml --only baseline mt_only mpn mpn_noca c1s_c2s
run $S/rmgl/p1_rp.yaml $S/rmgl/p2_rsa.yaml $S/rmgl/p2_partition.yaml --only rmgl op-baseline rmgl-no-rsa only-rp ip
