/* The quad finder's per-frame arithmetic in C, loaded by docscan/detect/native/__init__.py.
 *
 * Each function is the numpy code it replaces, step for step and in the same precision
 * (float32 where numpy computes in float32, numpy's pairwise summation where numpy sums
 * along a contiguous axis), so that both paths give the same corners: tests compare them
 * on drawn and real maps. Built with -ffp-contract=off: no fused multiply-adds that numpy
 * would not make. No allocation: callers pass every buffer.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* numpy's pairwise_sum for a contiguous run of doubles (numpy/_core/src/umath/loops_utils.h) */
static double pairwise_sum_d(const double *a, int64_t n, int64_t stride)
{
    if (n < 8) {
        double res = 0.;
        for (int64_t i = 0; i < n; i++) res += a[i * stride];
        return res;
    }
    if (n <= 128) {
        double r[8], res;
        for (int j = 0; j < 8; j++) r[j] = a[j * stride];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[(i + j) * stride];
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i * stride];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum_d(a, n2, stride) + pairwise_sum_d(a + n2 * stride, n - n2, stride);
}

static float pairwise_sum_f(const float *a, int64_t n)
{
    if (n < 8) {
        float res = 0.f;
        for (int64_t i = 0; i < n; i++) res += a[i];
        return res;
    }
    if (n <= 128) {
        float r[8], res;
        for (int j = 0; j < 8; j++) r[j] = a[j];
        int64_t i;
        for (i = 8; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; j++) r[j] += a[i + j];
        res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; i++) res += a[i];
        return res;
    }
    int64_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum_f(a, n2) + pairwise_sum_f(a + n2, n - n2);
}

static int cmp_f(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return (a > b) - (a < b);
}

static int cmp_d(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* quad_refine._row_medians of one row, float32 values (the median in float32, as numpy) */
static double median_f(const float *v, const unsigned char *mask, int64_t n, float *tmp)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
        if (mask[i]) tmp[c++] = v[i];
    if (c == 0) return NAN;
    qsort(tmp, (size_t)c, sizeof(float), cmp_f);
    int64_t k = c / 2;
    if (c % 2) return (double)tmp[k];
    return (double)((tmp[k - 1] + tmp[k]) / 2.0f);
}

static double median_d(const double *v, const unsigned char *mask, int64_t n, double *tmp)
{
    int64_t c = 0;
    for (int64_t i = 0; i < n; i++)
        if (mask[i]) tmp[c++] = v[i];
    if (c == 0) return NAN;
    qsort(tmp, (size_t)c, sizeof(double), cmp_d);
    int64_t k = c / 2;
    if (c % 2) return tmp[k];
    return (tmp[k - 1] + tmp[k]) / 2.0;
}

#define MAX_S 64

/* geometry.tls_lines of one row: points q (S, 2), weights w (S,) -> direction, point */
static void tls_line(const double *q, const double *w, int64_t S, double *dir, double *pt)
{
    double wx[MAX_S], wy[MAX_S], sxx_t[MAX_S], syy_t[MAX_S], sxy_t[MAX_S];
    double sw = pairwise_sum_d(w, S, 1);
    if (sw < 1e-300) sw = 1e-300;
    /* (w[..., None] * q).sum(axis=1): the reduced axis is not the innermost, numpy adds in order */
    double cx = 0., cy = 0.;
    for (int64_t i = 0; i < S; i++) {
        cx += w[i] * q[2 * i];
        cy += w[i] * q[2 * i + 1];
    }
    cx /= sw;
    cy /= sw;
    for (int64_t i = 0; i < S; i++) {
        double px = q[2 * i] - cx, py = q[2 * i + 1] - cy;
        wx[i] = w[i] * px;
        wy[i] = w[i] * py;
        sxx_t[i] = wx[i] * px;
        syy_t[i] = wy[i] * py;
        sxy_t[i] = wx[i] * py;
    }
    double sxx = pairwise_sum_d(sxx_t, S, 1), syy = pairwise_sum_d(syy_t, S, 1), sxy = pairwise_sum_d(sxy_t, S, 1);
    double theta = 0.5 * atan2(2 * sxy, sxx - syy);
    dir[0] = cos(theta);
    dir[1] = sin(theta);
    pt[0] = cx;
    pt[1] = cy;
}

/* quad_refine._refine_sides_on_image after its remap, with _trimmed_fits: the four sides'
 * lines from their grey profiles.
 *
 * prof (4 * S, O) float32 profiles across each side's samples; offs, prior (O,); base
 * (4, S, 2) sample points; nrm (4, 2) outward normals; ok (4, S) samples inside the photo;
 * n_ok (4,); d (4, 2) side directions; fitted (4,) in/out; dirs, points (4, 2) out.
 * Returns 1, or 0 when no side is fitted (dirs and points are then not written), or -1
 * when S or O is larger than this code's buffers.
 */
#define MAX_O 64
int refine_fit_sides(const float *prof, int64_t S, int64_t O, const double *offs, const double *prior,
                     double step, const double *base, const double *nrm, const unsigned char *ok,
                     const int64_t *n_ok, const double *d, unsigned char *fitted, double *dirs, double *points)
{
    static const double perp_deg4 = 4.0 * (M_PI / 180.0);   /* np.deg2rad(4.0) */
    float s[4][MAX_S][MAX_O];         /* the signed, prior-weighted derivative */
    float peak[4][MAX_S];
    int64_t idx[4][MAX_S];
    unsigned char use[4][MAX_S];
    float tmpf[MAX_S];
    double tmpd[MAX_S];
    if (S > MAX_S || O > MAX_O || O < 3) return -1;
    const float two_step = (float)(2. * step), one_step = (float)step;

    int any_fitted = 0;
    for (int k = 0; k < 4; k++) {
        /* _row_gradient, then the prior (numpy: float32 * float64 in float64, stored float32) */
        float up_t[MAX_S], down_t[MAX_S];
        for (int64_t i = 0; i < S; i++) {
            const float *p = prof + (k * S + i) * O;
            float *g = s[k][i];
            for (int64_t j = 1; j < O - 1; j++) g[j] = (p[j + 1] - p[j - 1]) / two_step;
            g[0] = (p[1] - p[0]) / one_step;
            g[O - 1] = (p[O - 1] - p[O - 2]) / one_step;
            float mx = -INFINITY, mn = INFINITY;
            for (int64_t j = 0; j < O; j++) {
                g[j] = (float)((double)g[j] * prior[j]);
                if (g[j] > mx) mx = g[j];
                if (g[j] < mn) mn = g[j];
            }
            up_t[i] = ok[k * S + i] ? (mx > 0.f ? mx : 0.f) : 0.f;
            down_t[i] = ok[k * S + i] ? (-mn > 0.f ? -mn : 0.f) : 0.f;
        }
        /* page brighter (usual) or darker than what is outside: the sign with more evidence */
        int flip = !(pairwise_sum_f(up_t, S) > pairwise_sum_f(down_t, S));
        unsigned char positive[MAX_S];
        int any_positive = 0;
        for (int64_t i = 0; i < S; i++) {
            float *g = s[k][i];
            if (flip)
                for (int64_t j = 0; j < O; j++) g[j] = -g[j];
            int64_t best = 0;
            for (int64_t j = 1; j < O; j++)
                if (g[j] > g[best]) best = j;
            idx[k][i] = best;
            peak[k][i] = g[best];
            positive[i] = ok[k * S + i] && g[best] > 0.f;
            any_positive |= positive[i];
        }
        double level = 0.35 * median_f(peak[k], positive, S, tmpf);
        if (!isnan(level) && level < 2.0) level = 2.0;
        int64_t n_use = 0;
        for (int64_t i = 0; i < S; i++) {
            use[k][i] = ok[k * S + i] && any_positive && (double)peak[k][i] > level && idx[k][i] > 0
                        && idx[k][i] < O - 1;
            n_use += use[k][i];
        }
        double need = 0.3 * (double)n_ok[k];
        fitted[k] = fitted[k] && (double)n_use >= (need > 6 ? need : 6);
        any_fitted |= fitted[k];
    }
    if (!any_fitted) return 0;

    for (int k = 0; k < 4; k++) {
        double q[MAX_S * 2], wts[MAX_S], w[MAX_S], res[MAX_S], dd[2], cc[2];
        unsigned char keep[MAX_S];
        for (int64_t i = 0; i < S; i++) {
            /* the parabola's vertex through the peak and its neighbours */
            const float *g = s[k][i];
            int64_t j = idx[k][i];
            float y0 = g[j > 0 ? j - 1 : 0], y1 = peak[k][i], y2 = g[j < O - 1 ? j + 1 : O - 1];
            float den = y0 - 2.f * y1 + y2;
            float frac = fabsf(den) <= 1e-9f ? 0.f : 0.5f * (y0 - y2) / den;
            frac = frac < -0.5f ? -0.5f : (frac > 0.5f ? 0.5f : frac);
            double off = offs[j] + (double)(frac * one_step);
            q[2 * i] = base[(k * S + i) * 2] + off * nrm[2 * k];
            q[2 * i + 1] = base[(k * S + i) * 2 + 1] + off * nrm[2 * k + 1];
            wts[i] = use[k][i] ? (double)peak[k][i] : 0.0;
        }
        /* _trimmed_fits: the weighted TLS line, refitted 3 times without the outliers */
        double need = 0.3 * (double)n_ok[k];
        need = need > 6 ? need : 6;
        int good = 1;
        memcpy(keep, use[k], (size_t)S);
        for (int round = 0; round < 3; round++) {
            for (int64_t i = 0; i < S; i++) w[i] = keep[i] ? wts[i] : 0.0;
            tls_line(q, w, S, dd, cc);
            for (int64_t i = 0; i < S; i++)
                res[i] = fabs((q[2 * i] - cc[0]) * -dd[1] + (q[2 * i + 1] - cc[1]) * dd[0]);
            double tol = (2.5 * 1.4826) * median_d(res, keep, S, tmpd);
            if (!isnan(tol) && tol < 0.75 * step) tol = 0.75 * step;
            int64_t n_keep = 0;
            for (int64_t i = 0; i < S; i++) {
                keep[i] = use[k][i] && res[i] <= tol;
                n_keep += keep[i];
            }
            good &= (double)n_keep >= need;
        }
        good &= fabs(dd[0] * d[2 * k] + dd[1] * d[2 * k + 1]) >= cos(perp_deg4);
        fitted[k] = fitted[k] && good;
        dirs[2 * k] = dd[0];
        dirs[2 * k + 1] = dd[1];
        points[2 * k] = cc[0];
        points[2 * k + 1] = cc[1];
    }
    return 1;
}

/* quad_refine._refine_sides_on_image before its remap: where each side's profiles are read.
 *
 * Side k runs from a[k] to b[k] (unit d[k], length[k]); centroid (2,) is the quad's centre;
 * offs (O,) the offsets across a side; S samples per side (the padded table); xmax, ymax the
 * largest coordinates a profile may reach. Out: nrm (4, 2) outward normals, base (4, S, 2)
 * sample points, ok (4, S) samples whose whole profile is inside, n_ok (4,), fitted (4,)
 * (long enough, enough samples), mapx, mapy (4 * S, O) float32 for cv2.remap.
 */
void refine_sample_grid(const double *a, const double *b, const double *d, const double *length,
                        const double *centroid, const double *offs, int64_t O, int64_t S, double xmax,
                        double ymax, double *nrm, double *base, unsigned char *ok, int64_t *n_ok,
                        unsigned char *fitted, float *mapx, float *mapy)
{
    for (int k = 0; k < 4; k++) {
        const double dx = d[2 * k], dy = d[2 * k + 1];
        double nx = -dy, ny = dx;
        double mx = (a[2 * k] + b[2 * k]) / 2 - centroid[0], my = (a[2 * k + 1] + b[2 * k + 1]) / 2 - centroid[1];
        if (!((mx * nx + my * ny) >= 0)) {   /* n points out of the page */
            nx = -nx;
            ny = -ny;
        }
        nrm[2 * k] = nx;
        nrm[2 * k + 1] = ny;
        double mf = length[k] / 4;
        mf = mf > 12 ? mf : 12;
        mf = mf < (double)S ? mf : (double)S;
        int64_t m = (int64_t)mf;
        /* np.linspace(0.1 * length, 0.9 * length, m), padded to S */
        double lo = 0.1 * length[k], hi = 0.9 * length[k];
        double dt = (hi - lo) / (double)(m - 1 > 1 ? m - 1 : 1);
        int64_t count = 0;
        for (int64_t i = 0; i < S; i++) {
            double t = i == m - 1 ? hi : (double)i * dt + lo;
            double bx = a[2 * k] + t * dx, by = a[2 * k + 1] + t * dy;
            base[(k * S + i) * 2] = bx;
            base[(k * S + i) * 2 + 1] = by;
            int good = i < m;
            const double ends[2] = {offs[0], offs[O - 1]};
            for (int e = 0; e < 2; e++) {
                double ex = bx + ends[e] * nx, ey = by + ends[e] * ny;
                good = good && ex >= 1 && ex <= xmax && ey >= 1 && ey <= ymax;
            }
            ok[k * S + i] = (unsigned char)good;
            count += good;
            for (int64_t j = 0; j < O; j++) {
                mapx[(k * S + i) * O + j] = (float)(bx + offs[j] * nx);
                mapy[(k * S + i) * O + j] = (float)(by + offs[j] * ny);
            }
        }
        n_ok[k] = count;
        fitted[k] = length[k] >= 10 && count >= 6;
    }
}
