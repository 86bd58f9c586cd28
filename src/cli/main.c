/* main.c: the baton program: parses the subcommand and dispatches. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "baton/buildinfo.h"
#include "baton_config.h"
#include "commands.h"
#include "options.h"

static void usage(FILE *out)
{
    fprintf(out, "usage: baton COMMAND [options]   (baton COMMAND --help for its options)\n"
                 "  demo       train a small translator on a built-in task and show its translations\n"
                 "  train      train a translator and write it to a model directory\n"
                 "  translate  translate sentences with a trained model (beam search, --beam 5)\n"
                 "  score      log-probability of target sentences under a model\n"
                 "  bleu       corpus BLEU and chrF of translations against references (as sacreBLEU)\n"
                 "  bench      benchmarks: layers (fused vs cuDNN), attention, training steps (tokens/s)\n"
                 "  check      compare the fused GPU kernels with cuDNN (or the CPU) on random inputs\n"
                 "  version    what this build contains\n");
}

static int dispatch(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "demo") == 0)
        return cli_demo(argc, argv);
    if (strcmp(cmd, "train") == 0)
        return cli_train(argc, argv);
    if (strcmp(cmd, "translate") == 0)
        return cli_translate(argc, argv);
    if (strcmp(cmd, "score") == 0)
        return cli_score(argc, argv);
    if (strcmp(cmd, "bleu") == 0)
        return cli_bleu(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return cli_bench(argc, argv);
    if (strcmp(cmd, "check") == 0)
        return cli_check(argc, argv);
    if (strcmp(cmd, "version") == 0 || strcmp(cmd, "--version") == 0) {
        baton_buildinfo_print(stdout);
        return 0;
    }
    fprintf(stderr, "baton: error: unknown command '%s'; expected demo, train, translate, score, bleu, bench, check or version\n", cmd);
    return 2;
}

/* OpenMP's idle threads spin for a while after each parallel region, on the cores the CPU backend's
 * own pool (src/cpu/cpu_deal.c) needs next; with OMP_WAIT_POLICY=passive they sleep at once, and the
 * backend then runs its loops on every thread (src/cpu/cpu_backend.c). libgomp reads the policy when
 * it loads, before main, so where the environment names none, the program sets it and starts itself
 * again (same process, same arguments). A user's own OMP_WAIT_POLICY is left as it is. */
static void passive_openmp(char **argv)
{
#if BATON_HAVE_OPENMP
    if (getenv("OMP_WAIT_POLICY"))
        return;
    setenv("OMP_WAIT_POLICY", "passive", 1);
    execv("/proc/self/exe", argv);
    unsetenv("OMP_WAIT_POLICY"); /* no re-exec (no /proc): the policy in force stays the default */
#else
    (void)argv;
#endif
}

int main(int argc, char **argv)
{
    passive_openmp(argv);
    /* A file-size limit (ulimit -f, RLIMIT_FSIZE) would kill the process with SIGXFSZ mid-write;
     * ignored, the write fails with EFBIG and the writer says which file and why, as for a full
     * disk (docs/faults.md). */
    signal(SIGXFSZ, SIG_IGN);
    int rc = dispatch(argc, argv);
    cli_opts_release();
    return rc;
}
