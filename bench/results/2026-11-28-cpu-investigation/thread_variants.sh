#!/bin/bash
# The thread-configuration experiment behind NOTES.md: baton at 2 cores under each OpenBLAS/OpenMP
# setting, with baton-bench-rnn's per-op profile. Usage: thread_variants.sh BUILD_DIR [OPENMP_OPENBLAS_DIR]
# OPENMP_OPENBLAS_DIR holds Debian's OpenMP-flavoured libopenblas.so.0 without installing it system-wide:
#   apt-get download libopenblas0-openmp && dpkg-deb -x libopenblas0-openmp_*.deb /tmp/obomp
#   -> /tmp/obomp/usr/lib/x86_64-linux-gnu/openblas-openmp (the default below)
B=${1:-build}/bench/baton-bench-rnn
OMPLIB=${2:-/tmp/obomp/usr/lib/x86_64-linux-gnu/openblas-openmp}
args="--hidden ${HS:-256,512} --reps 10 --warmup 3 --profile"
v() { local name=$1; shift; echo "### $name  [load $(cut -d' ' -f1 /proc/loadavg)]"; env "$@" | grep -E "^(lstm|gru|rnn_tanh) |profile"; }
v "T1 threads=1 (pthread OpenBLAS)"                      $B $args --threads 1
v "T2 threads=2 (pthread OpenBLAS + GOMP, defaults)"     $B $args --threads 2
v "T2 OMP_WAIT_POLICY=passive"                           OMP_WAIT_POLICY=passive $B $args --threads 2
v "T2 OMP_WAIT_POLICY=active"                            OMP_WAIT_POLICY=active $B $args --threads 2
v "OpenBLAS 2, OMP 1 (cell loops serial)"                OPENBLAS_NUM_THREADS=2 OMP_NUM_THREADS=1 $B $args --threads 0
v "OpenBLAS 1, OMP 2"                                    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=2 $B $args --threads 0
v "T2 OpenMP-flavour OpenBLAS"                           LD_LIBRARY_PATH=$OMPLIB $B $args --threads 2
v "T1 OpenMP-flavour OpenBLAS"                           LD_LIBRARY_PATH=$OMPLIB $B $args --threads 1
