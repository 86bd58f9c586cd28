/* buildinfo.h: what this build contains. */
#ifndef BATON_BUILDINFO_H
#define BATON_BUILDINFO_H

#include <stdio.h>

/* Prints the version, BLAS, OpenMP, CUDA (runtime, driver, devices) and cuDNN versions. */
void baton_buildinfo_print(FILE *out);

#endif
