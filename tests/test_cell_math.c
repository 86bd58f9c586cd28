/* test_cell_math.c: the arithmetic exp, tanh and sigmoid of cell_math.h against double-precision
 * libm, in units in the last place (ulp) of the float result, over a dense sweep of [-90, 90] and
 * of [-1, 1] (where tanh switches from its polynomial to the exp form at 0.625), plus NaN and the
 * saturated ends. The bound is 2 ulp for exp and tanh (Cephes' published accuracy for these
 * polynomials is about 1 ulp; rounding of the reduction adds at most one more) and 3 ulp for
 * sigmoid (one more division). Where the true value is below the smallest normal float the error
 * is measured against that (the result may be a subnormal or zero). */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "baton/cell_math.h"
#include "support/testutil.h"

/* |got - want| in ulps of want (ulps of FLT_MIN for subnormal wants); NaN counts as infinite. */
static double ulps(float got, double want)
{
    if (isnan(got) || isnan(want))
        return isnan(got) && isnan(want) ? 0.0 : INFINITY;
    double mag = fmax(fabs(want), FLT_MIN);
    int e;
    frexp(mag, &e);
    double ulp = ldexp(1.0, e - 24);
    return fabs((double)got - want) / ulp;
}

static double sigmoid_d(double x)
{
    return 1.0 / (1.0 + exp(-x));
}

int main(void)
{
    tu_report r = {0, 0};
    double worst[3] = {0, 0, 0};
    for (int range = 0; range < 2; range++) {
        double lo = range ? -1.0 : -87.0, hi = range ? 1.0 : 88.0;
        int n = 2000000;
        for (int i = 0; i <= n; i++) {
            float x = (float)(lo + (hi - lo) * i / n);
            worst[0] = fmax(worst[0], ulps(baton_exp(x), exp((double)x)));
            worst[1] = fmax(worst[1], ulps(baton_tanh(x), tanh((double)x)));
            worst[2] = fmax(worst[2], ulps(baton_sigmoid(x), sigmoid_d((double)x)));
        }
    }
    tu_check_abs(&r, "exp, ulp error over [-87, 88]", worst[0], 2.0);
    tu_check_abs(&r, "tanh, ulp error over [-87, 88]", worst[1], 2.0);
    tu_check_abs(&r, "sigmoid, ulp error over [-87, 88]", worst[2], 3.0);

    /* saturated ends: the clamps must give the limits, not inf or NaN */
    double ends = fabs(baton_tanh(1e30f) - 1.0) + fabs(baton_tanh(-INFINITY) + 1.0) + fabs(baton_sigmoid(INFINITY) - 1.0) +
                  fabs(baton_sigmoid(-1e30f)) + (isfinite(baton_exp(1e30f)) ? 0.0 : 1.0);
    tu_check_abs(&r, "tanh, sigmoid limits and finite exp beyond 88", ends, 1e-30);
    int nan_kept = isnan(baton_exp(NAN)) + isnan(baton_tanh(NAN)) + isnan(baton_sigmoid(NAN));
    tu_check_abs(&r, "NaN in, NaN out (functions that lost it)", 3 - nan_kept, 0);
    return tu_summary(&r, "cell math");
}
