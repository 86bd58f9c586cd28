#!/usr/bin/env bash
# mpirun.sh NP CMD...: runs CMD as NP ranks of Open MPI on this machine, as the dist suite does;
# exit 77 (skip) where Open MPI's mpirun is absent. Root is allowed (CI runs as root), more ranks
# than cores too, and only shared memory carries messages (no network needed).
np=$1; shift
command -v mpirun >/dev/null || { echo "skip: no mpirun (install openmpi-bin)"; exit 77; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl=self,vader OMPI_MCA_rmaps_base_oversubscribe=1
# containers often forbid the cross-process reads (CMA) vader would use for large messages
export OMPI_MCA_btl_vader_single_copy_mechanism=none
exec mpirun -np "$np" "$@"
