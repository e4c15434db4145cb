/* The quad finder's per-frame arithmetic in C, loaded by docscan/detect/native/__init__.py.
 *
 * Each function is the numpy code it replaces, step for step and in the same precision
 * (float32 where numpy computes in float32, numpy's pairwise summation where numpy sums
 * along a contiguous axis), so that both paths give the same corners: tests compare them
 * on drawn and real maps. Built with -ffp-contract=off: no fused multiply-adds that numpy
 * would not make. Callers pass the buffers for what comes back; quad_candidates keeps its
 * work tables between calls (per thread: ctypes releases the GIL).
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
    static const double four_degrees = 4.0 * (M_PI / 180.0);   /* np.deg2rad(4.0) */
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
        good &= fabs(dd[0] * d[2 * k] + dd[1] * d[2 * k + 1]) >= cos(four_degrees);
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
            double t = i >= m - 1 ? hi : (double)i * dt + lo;     /* padding: the last sample */
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

/* ---- candidates (quad_candidates.candidates after _orders) ---- */

typedef struct {
    double border_support, region_line_support, min_side_cover, unsupported_penalty, ratio_power;
    double max_outside, min_area, sin_min_angle, cos_min_angle;
} CandidateParams;

/* numpy's rint: round half to even. Adding and taking away 1.5 * 2^52 rounds in the default
 * rounding mode for |x| < 2^51, without a libm call where the CPU has no rounding
 * instruction (x86-64 before SSE 4.1). */
static inline double rint_even(double x)
{
    if (!(fabs(x) < 0x1p51)) return nearbyint(x);
    double y = x + 0x1.8p52;     /* (no -ffast-math: the compiler keeps both roundings) */
    return y - 0x1.8p52;
}

static double clamp_span(double v, double hi)
{
    v = v > 0 ? v : 0;       /* np.maximum(v, 0): nan stays nan */
    return v < hi ? v : hi;
}

/* quad_candidates._line_table: per line, the support map sampled at unit steps over its
 * in-frame stretch, as cumulative sums (n, ns + 1) */
void line_table(int64_t n, const double *dirs, const double *cs, const unsigned char *border,
                const unsigned char *from_region, const double *support_map, int64_t h, int64_t w,
                double border_support, double region_line_support, int64_t ns, double *points, int64_t *start,
                double *cum_support, double *cum_inside)
{
    const double cx = (w - 1) / 2.0, cy = (h - 1) / 2.0;
    for (int64_t j = 0; j < n; j++) {
        const double dx = dirs[2 * j], dy = dirs[2 * j + 1];
        double ax = (cx - cs[2 * j]) * dx, ay = (cy - cs[2 * j + 1]) * dy;
        double along = ax + ay;
        double px = cs[2 * j] + along * dx, py = cs[2 * j + 1] + along * dy;
        points[2 * j] = px;
        points[2 * j + 1] = py;
        double tx0, tx1, ty0, ty1;
        if (fabs(dx) < 1e-12) { tx0 = -INFINITY; tx1 = INFINITY; }
        else { tx0 = (-0.5 - px) / dx; tx1 = ((w - 0.5) - px) / dx; }
        if (fabs(dy) < 1e-12) { ty0 = -INFINITY; ty1 = INFINITY; }
        else { ty0 = (-0.5 - py) / dy; ty1 = ((h - 0.5) - py) / dy; }
        double txm = tx0 < tx1 ? tx0 : tx1, tym = ty0 < ty1 ? ty0 : ty1;
        double t_in = txm > tym ? txm : tym;
        int64_t s = (int64_t)floor(isfinite(t_in) ? t_in : 0.0);
        start[j] = s;
        double floor_v = border[j] ? border_support : (from_region[j] ? region_line_support : 0.0);
        double *cum = cum_support + j * (ns + 1), *cin = cum_inside + j * (ns + 1);
        double acc = 0.0;
        int64_t acc_in = 0;
        cum[0] = 0.0;
        cin[0] = 0.0;
        for (int64_t i = 0; i < ns; i++) {
            double t = (double)(s + i);
            double xs = px + t * dx, ys = py + t * dy;
            int inside = xs >= -0.5 && xs <= w - 0.5 && ys >= -0.5 && ys <= h - 0.5;
            double sup = 0.0;
            if (inside) {
                double xr = rint_even(xs), yr = rint_even(ys);
                int64_t xi = (int64_t)xr, yi = (int64_t)yr;
                xi = xi < 0 ? 0 : (xi > w - 1 ? w - 1 : xi);
                yi = yi < 0 ? 0 : (yi > h - 1 ? h - 1 : yi);
                double v = support_map[yi * w + xi];
                sup = v > floor_v ? v : floor_v;
                if (isnan(v)) sup = v;
            }
            acc += sup;
            acc_in += inside;
            cum[i + 1] = acc;
            cin[i + 1] = (double)acc_in;
        }
    }
}

/* Entries ordered as np.argsort(key, kind="stable") orders them: ascending key (a negated
 * score, length or weight), ties in index order. That is a strict total order, so any
 * correct sort gives the stable one, and the first m by selection, then sorted, are the
 * first m of the full sort. */
typedef struct {
    double key;
    int64_t index;
} Ranked;

static inline int before(Ranked a, Ranked b)
{
    return a.key < b.key || (a.key == b.key && a.index < b.index);
}

static void sort_ranked(Ranked *v, int64_t n)
{
    if (n < 24) {
        for (int64_t i = 1; i < n; i++) {
            Ranked x = v[i];
            int64_t j = i - 1;
            while (j >= 0 && before(x, v[j])) { v[j + 1] = v[j]; j--; }
            v[j + 1] = x;
        }
        return;
    }
    Ranked pivot = v[n / 2];
    int64_t i = 0, j = n - 1;
    while (i <= j) {
        while (before(v[i], pivot)) i++;
        while (before(pivot, v[j])) j--;
        if (i <= j) { Ranked t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
    }
    if (j > 0) sort_ranked(v, j + 1);
    if (i < n - 1) sort_ranked(v + i, n - i);
}

/* rearrange v so that its first m entries are the m first in order (unsorted) */
static void select_first(Ranked *v, int64_t n, int64_t m)
{
    int64_t lo = 0, hi = n - 1;
    while (lo < hi) {
        Ranked pivot = v[lo + (hi - lo) / 2];
        int64_t i = lo, j = hi;
        while (i <= j) {
            while (before(v[i], pivot)) i++;
            while (before(pivot, v[j])) j--;
            if (i <= j) { Ranked t = v[i]; v[i] = v[j]; v[j] = t; i++; j--; }
        }
        if (m - 1 <= j) hi = j;
        else if (m - 1 >= i) lo = i;
        else break;
    }
}

static int shape_ok(const double *c, double w, double h, const CandidateParams *p)
{
    static const int nx[4] = {1, 2, 3, 0}, pv[4] = {3, 0, 1, 2};
    double mx = p->max_outside * w, my = p->max_outside * h;
    for (int k = 0; k < 4; k++) {
        double x = c[2 * k], y = c[2 * k + 1];
        if (!(x >= -mx && x <= w - 1 + mx && y >= -my && y <= h - 1 + my)) return 0;
    }
    double ex[4], ey[4], cross[4], a[4];
    for (int k = 0; k < 4; k++) {
        ex[k] = c[2 * nx[k]] - c[2 * k];
        ey[k] = c[2 * nx[k] + 1] - c[2 * k + 1];
    }
    double cmin = INFINITY, cmax = -INFINITY;
    for (int k = 0; k < 4; k++) {
        cross[k] = ex[k] * ey[nx[k]] - ey[k] * ex[nx[k]];
        cmin = cross[k] < cmin ? cross[k] : cmin;
        cmax = cross[k] > cmax ? cross[k] : cmax;
        if (isnan(cross[k])) return 0;
    }
    if (!(cmin > 0 || cmax < 0)) return 0;
    for (int k = 0; k < 4; k++) a[k] = c[2 * k] * c[2 * nx[k] + 1] - c[2 * k + 1] * c[2 * nx[k]];
    double area = 0.5 * fabs(a[0] + a[1] + a[2] + a[3]);
    if (!(area >= p->min_area * w * h)) return 0;
    double ux[4], uy[4];
    for (int k = 0; k < 4; k++) {
        double norm = sqrt(ex[k] * ex[k] + ey[k] * ey[k]);
        norm = norm > 1e-9 ? norm : 1e-9;
        ux[k] = ex[k] / norm;
        uy[k] = ey[k] / norm;
    }
    for (int k = 0; k < 4; k++) {
        double cos_int = -(ux[k] * ux[pv[k]] + uy[k] * uy[pv[k]]);
        if (!(fabs(cos_int) <= p->cos_min_angle)) return 0;
    }
    return 1;
}

/* quad_candidates.candidates after the line table: crossings, side evidence, edge score,
 * the sane-shaped among the best-scored (``shape_checked`` first, the rest only when none
 * of those is). orders (R, 4): _orders(n, n_real). Outputs, best score first, up to ``cap``
 * rows: ids (K, 4), corners (K, 4, 2), score (K,), supported and in_frame (K, 4).
 * Returns K (0: none; the caller returns None), -1 when out of memory, or -2 - rows when
 * the outputs need that many rows (call again with cap >= rows). */
int64_t quad_candidates(int64_t n, const double *points, const double *dirs, const unsigned char *exempt,
                        const int64_t *start, const double *cum_support, const double *cum_inside, int64_t ns,
                        int64_t h, int64_t w, const CandidateParams *p, const int64_t *orders, int64_t R,
                        int64_t shape_checked, int64_t cap, int64_t *out_ids, double *out_corners,
                        double *out_score, double *out_sup, double *out_inf)
{
    /* grown as needed, kept for the next call (per thread: ctypes releases the GIL) */
    static __thread Ranked *ranked = NULL;
    static __thread int64_t ranked_cap = 0;
    static __thread double *work = NULL;
    static __thread int64_t work_cap = 0;
    const int64_t n2 = n * n, n3 = n2 * n;
    if (R > ranked_cap) {
        Ranked *grown = realloc(ranked, sizeof(Ranked) * (size_t)R);
        if (!grown) return -1;
        ranked = grown;
        ranked_cap = R;
    }
    const int64_t need = n2 * 3 + n3 * 2 + (n3 + n2 + 7) / 8 + 1;  /* doubles; flags packed 8 a double */
    if (need > work_cap) {
        double *grown = realloc(work, sizeof(double) * (size_t)need);
        if (!grown) return -1;
        work = grown;
        work_cap = need;
    }
    double *t_cross = work, *crossing = work + n2, *side_sup = work + 3 * n2, *side_inf = side_sup + n3;
    unsigned char *meets = (unsigned char *)(side_inf + n3), *side_ok = meets + n2;

    /* _crossings */
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++) {
            double den = dirs[2 * i] * dirs[2 * j + 1] - dirs[2 * i + 1] * dirs[2 * j];
            double dfx = points[2 * j] - points[2 * i], dfy = points[2 * j + 1] - points[2 * i + 1];
            int m = fabs(den) >= p->sin_min_angle;
            double t = (dfx * dirs[2 * j + 1] - dfy * dirs[2 * j]) / (m ? den : 1.0);
            t = m ? t : 0.0;
            meets[i * n + j] = (unsigned char)m;
            t_cross[i * n + j] = t;
            crossing[(i * n + j) * 2] = points[2 * i] + t * dirs[2 * i];
            crossing[(i * n + j) * 2 + 1] = points[2 * i + 1] + t * dirs[2 * i + 1];
        }
    /* _side_tables: the side on line j between its crossings with i and k. rint is monotonic,
     * so rint(min(a, b)) = min(rint(a), rint(b)): each crossing is rounded once, and the side
     * (i, j, k) is the side (k, j, i). */
    const double size = (double)(h < w ? h : w);
    for (int64_t j = 0; j < n; j++) {
        const double s = (double)start[j];
        const double *cs_ = cum_support + j * (ns + 1), *ci = cum_inside + j * (ns + 1);
        for (int64_t i = 0; i < n; i++) {
            const double a = t_cross[j * n + i], ra = rint_even(a);
            for (int64_t k = i; k < n; k++) {
                const double b = t_cross[j * n + k], rb = k == i ? ra : rint_even(b);
                double r0 = ra < rb ? ra : rb, r1 = ra < rb ? rb : ra;
                if (isnan(a) || isnan(b)) { r0 = NAN; r1 = NAN; }
                int64_t i0 = (int64_t)clamp_span(r0 - s, (double)ns), i1 = (int64_t)clamp_span(r1 + 1 - s, (double)ns);
                double sp = cs_[i1] - cs_[i0], in = ci[i1] - ci[i0];
                unsigned char ok = in >= 0.05 * size && (exempt[j] || sp >= p->min_side_cover * (in > 1.0 ? in : 1.0));
                int64_t x = (i * n + j) * n + k, y = (k * n + j) * n + i;
                side_sup[x] = side_sup[y] = sp;
                side_inf[x] = side_inf[y] = in;
                side_ok[x] = side_ok[y] = ok;
            }
        }
    }
    /* the orders whose consecutive lines meet and whose four sides have evidence, scored */
    int64_t nr = 0;
    for (int64_t r = 0; r < R; r++) {
        const int64_t *l = orders + 4 * r;
        if (!(meets[l[0] * n + l[1]] && meets[l[1] * n + l[2]] && meets[l[2] * n + l[3]] && meets[l[3] * n + l[0]]))
            continue;
        int64_t sides[4];
        int ok = 1;
        for (int q = 0; q < 4; q++) {
            sides[q] = (l[(q + 3) % 4] * n + l[q]) * n + l[(q + 1) % 4];
            ok &= side_ok[sides[q]];
        }
        if (!ok) continue;
        /* _edge_score (sums over 4 in numpy's order) */
        double ssum = 0., isum = 0., usum = 0.;
        for (int q = 0; q < 4; q++) {
            double sp = side_sup[sides[q]], in = side_inf[sides[q]];
            ssum += sp;
            usum += in - sp;
            isum += in;
        }
        double sc = ssum - p->unsupported_penalty * usum;
        if (p->ratio_power > 0) {
            double share = ssum / (isum > 1.0 ? isum : 1.0);
            if (sc > 0) sc = sc * pow(share, p->ratio_power);
        }
        ranked[nr].key = -sc;
        ranked[nr].index = r;
        nr++;
    }
    if (nr == 0) return 0;
    /* geometry for the best-scored few hundred first: the winner is almost always among them */
    int64_t first = shape_checked < nr ? shape_checked : nr;
    select_first(ranked, nr, first);
    sort_ranked(ranked, first);
    int64_t K = 0;
    for (int chunk = 0; chunk < 2 && K == 0; chunk++) {
        int64_t lo = chunk == 0 ? 0 : first, hi = chunk == 0 ? first : nr;
        if (lo >= hi) break;
        if (hi - lo > cap) return -2 - (hi - lo);
        if (chunk == 1) sort_ranked(ranked + lo, hi - lo);
        for (int64_t q = lo; q < hi; q++) {
            const int64_t *l = orders + 4 * ranked[q].index;
            double corners[8];
            for (int c = 0; c < 4; c++) {
                int64_t a = l[c], b = l[(c + 1) % 4];
                corners[2 * c] = crossing[(a * n + b) * 2];
                corners[2 * c + 1] = crossing[(a * n + b) * 2 + 1];
            }
            if (!shape_ok(corners, (double)w, (double)h, p)) continue;
            for (int c = 0; c < 4; c++) {
                int64_t side = (l[(c + 3) % 4] * n + l[c]) * n + l[(c + 1) % 4];
                out_ids[4 * K + c] = l[c];
                out_sup[4 * K + c] = side_sup[side];
                out_inf[4 * K + c] = side_inf[side];
            }
            memcpy(out_corners + 8 * K, corners, sizeof corners);
            out_score[K] = -ranked[q].key;
            K++;
        }
    }
    return K;
}

/* ---- quad_lines._segments_to_lines, _merge_coinciding, _best_supported ---- */

/* Hough segments (N, 4) int32 x0 y0 x1 y1 -> at most max_lines lines as rows of out (max_lines,
 * 5): dx, dy, cx, cy, support. cos_tol, dist_tol: when two lines coincide; cos15: the
 * "same direction" of _best_supported. Returns the number of lines, -1 when out of memory. */
int64_t segments_to_lines(const int32_t *segs_in, int64_t N, double cos_tol, double dist_tol, double cos15,
                          int64_t max_lines, int64_t max_per_direction, double *out)
{
    if (N <= 0) return 0;
    const size_t nn = (size_t)N;
    double *seg = malloc(sizeof(double) * nn * 4), *len = malloc(sizeof(double) * nn);
    double *dir = malloc(sizeof(double) * nn * 2), *mid = malloc(sizeof(double) * nn * 2);
    double *nrm = malloc(sizeof(double) * nn * 2);
    Ranked *by = malloc(sizeof(Ranked) * nn);
    int64_t *label = malloc(sizeof(int64_t) * nn);
    double *acc = malloc(sizeof(double) * nn * 9);   /* per cluster: weight, mx, my, sxx, syy, sxy, theta */
    double *merged = malloc(sizeof(double) * nn * 5);
    int64_t *kept_idx = malloc(sizeof(int64_t) * nn);
    int64_t result = -1;
    if (!seg || !len || !dir || !mid || !nrm || !by || !label || !acc || !merged || !kept_idx) goto done;

    /* longest first (stable), zero-length segments dropped */
    for (int64_t i = 0; i < N; i++) {
        double dx = (double)segs_in[4 * i + 2] - (double)segs_in[4 * i];
        double dy = (double)segs_in[4 * i + 3] - (double)segs_in[4 * i + 1];
        by[i].key = -hypot(dx, dy);
        by[i].index = i;
    }
    sort_ranked(by, N);
    int64_t n = 0;
    for (int64_t r = 0; r < N; r++) {
        int64_t i = by[r].index;
        double L = -by[r].key;
        if (!(L > 0)) continue;
        for (int c = 0; c < 4; c++) seg[4 * n + c] = (double)segs_in[4 * i + c];
        len[n] = L;
        double dx = (seg[4 * n + 2] - seg[4 * n]) / L, dy = (seg[4 * n + 3] - seg[4 * n + 1]) / L;
        dir[2 * n] = dx;
        dir[2 * n + 1] = dy;
        mid[2 * n] = (seg[4 * n] + seg[4 * n + 2]) / 2;
        mid[2 * n + 1] = (seg[4 * n + 1] + seg[4 * n + 3]) / 2;
        nrm[2 * n] = -dy;
        nrm[2 * n + 1] = dx;
        n++;
    }
    if (n == 0) { result = 0; goto done; }
    /* greedy clustering: each segment joins the first seed (a longer segment) whose line it fits */
    for (int64_t i = 0; i < n; i++) label[i] = -1;
    int64_t k = 0;
    for (int64_t s = 0; s < n; s++) {
        if (label[s] >= 0) continue;
        label[s] = k;
        const double nx = nrm[2 * s], ny = nrm[2 * s + 1], mx = mid[2 * s], my = mid[2 * s + 1];
        for (int64_t i = s + 1; i < n; i++) {
            if (label[i] >= 0) continue;
            /* dirs @ dirs.T as a two-term dot product (see the module doc on FMA) */
            double dot = dir[2 * i] * dir[2 * s] + dir[2 * i + 1] * dir[2 * s + 1];
            if (!(fabs(dot) >= cos_tol)) continue;
            if (!(fabs((seg[4 * i] - mx) * nx + (seg[4 * i + 1] - my) * ny) < dist_tol)) continue;
            if (!(fabs((seg[4 * i + 2] - mx) * nx + (seg[4 * i + 3] - my) * ny) < dist_tol)) continue;
            label[i] = k;
        }
        k++;
    }
    /* per cluster, the TLS line of its segments seen as uniform mass along their length
     * (np.bincount: sums in segment order) */
    double *weight = acc, *cmx = acc + nn, *cmy = acc + 2 * nn, *sxx = acc + 3 * nn, *syy = acc + 4 * nn;
    double *sxy = acc + 5 * nn, *theta = acc + 6 * nn;
    for (int64_t c = 0; c < k; c++) weight[c] = cmx[c] = cmy[c] = sxx[c] = syy[c] = sxy[c] = 0.0;
    for (int64_t i = 0; i < n; i++) {
        weight[label[i]] += len[i];
        cmx[label[i]] += len[i] * mid[2 * i];
        cmy[label[i]] += len[i] * mid[2 * i + 1];
    }
    for (int64_t c = 0; c < k; c++) {
        cmx[c] = cmx[c] / weight[c];
        cmy[c] = cmy[c] / weight[c];
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t c = label[i];
        double qx = mid[2 * i] - cmx[c], qy = mid[2 * i + 1] - cmy[c], v = len[i] * len[i] / 12;
        double dx = dir[2 * i], dy = dir[2 * i + 1];
        sxx[c] += len[i] * (qx * qx + v * (dx * dx));
        syy[c] += len[i] * (qy * qy + v * (dy * dy));
        sxy[c] += len[i] * (qx * qy + v * dx * dy);
    }
    for (int64_t c = 0; c < k; c++) theta[c] = 0.5 * atan2(2 * sxy[c], sxx[c] - syy[c]);
    /* _merge_coinciding: best-supported first; a cluster on a kept line adds its support */
    for (int64_t c = 0; c < k; c++) {
        by[c].key = -weight[c];
        by[c].index = c;
    }
    sort_ranked(by, k);
    int64_t nm = 0;
    for (int64_t r = 0; r < k; r++) {
        int64_t c = by[r].index;
        double dx = cos(theta[c]), dy = sin(theta[c]), cx = cmx[c], cy = cmy[c], wc = weight[c];
        int merged_into = 0;
        for (int64_t m = 0; m < nm; m++) {
            double *ln = merged + 5 * m;
            if (fabs(dx * ln[0] + dy * ln[1]) > cos_tol && fabs((cx - ln[2]) * -ln[1] + (cy - ln[3]) * ln[0]) < dist_tol) {
                ln[4] += wc;
                merged_into = 1;
                break;
            }
        }
        if (!merged_into) {
            double *ln = merged + 5 * nm++;
            ln[0] = dx; ln[1] = dy; ln[2] = cx; ln[3] = cy; ln[4] = wc;
        }
    }
    /* _best_supported: by support (a stable sort), at most max_per_direction alike */
    for (int64_t m = 0; m < nm; m++) {
        by[m].key = -merged[5 * m + 4];
        by[m].index = m;
    }
    sort_ranked(by, nm);
    int64_t nk = 0;
    for (int64_t r = 0; r < nm && nk < max_lines; r++) {
        const double *ln = merged + 5 * by[r].index;
        int64_t alike = 0;
        for (int64_t q = 0; q < nk; q++) {
            const double *kq = merged + 5 * kept_idx[q];
            if (fabs(ln[0] * kq[0] + ln[1] * kq[1]) > cos15) alike++;
        }
        if (alike < max_per_direction) kept_idx[nk++] = by[r].index;
    }
    for (int64_t q = 0; q < nk; q++) memcpy(out + 5 * q, merged + 5 * kept_idx[q], sizeof(double) * 5);
    result = nk;
done:
    free(seg); free(len); free(dir); free(mid); free(nrm); free(by); free(label); free(acc);
    free(merged); free(kept_idx);
    return result;
}

/* ---- quad_refine._refit_sides: each side refitted to the edge map's mass around it ---- */

/* Before its remap: side k from starts[k] to ends[k], n_t cross-sections between 10% and
 * 90% of it, offs (O,) across. Out: mapx, mapy (4 * n_t, O) float32; base (4, n_t, 2); nrm,
 * d (4, 2); length (4,). */
void edge_refit_grid(const double *starts, const double *ends, const double *offs, int64_t O, int64_t n_t,
                     float *mapx, float *mapy, double *base, double *nrm, double *d, double *length)
{
    for (int k = 0; k < 4; k++) {
        double dx = ends[2 * k] - starts[2 * k], dy = ends[2 * k + 1] - starts[2 * k + 1];
        double L = sqrt(dx * dx + dy * dy);
        double Ls = L > 1e-9 ? L : 1e-9;
        dx = dx / Ls;
        dy = dy / Ls;
        length[k] = L;
        d[2 * k] = dx;
        d[2 * k + 1] = dy;
        nrm[2 * k] = -dy;
        nrm[2 * k + 1] = dx;
        double lo = 0.1 * L, hi = 0.9 * L, dt = (hi - lo) / (double)(n_t - 1);
        for (int64_t i = 0; i < n_t; i++) {
            double t = i == n_t - 1 ? hi : (double)i * dt + lo;
            double bx = starts[2 * k] + t * dx, by = starts[2 * k + 1] + t * dy;
            base[(k * n_t + i) * 2] = bx;
            base[(k * n_t + i) * 2 + 1] = by;
            for (int64_t j = 0; j < O; j++) {
                mapx[(k * n_t + i) * O + j] = (float)(bx + offs[j] * -dy);
                mapy[(k * n_t + i) * O + j] = (float)(by + offs[j] * dx);
            }
        }
    }
}

/* After it: vals (4 * n_t, O) float32, the edge map there (0 outside). Per cross-section the
 * mass above lo and its centre across the side; a weighted TLS line through the centres.
 * Out: dirs, points (4, 2); fitted (4,): enough mass and turned less than acos(cos_max_turn). */
void edge_refit_fit(const float *vals, const float *mapx, const float *mapy, int64_t h, int64_t w, double lo,
                    const double *offs, int64_t O, int64_t n_t, const double *base, const double *nrm,
                    const double *d, const double *length, double cos_max_turn, double *dirs, double *points,
                    unsigned char *fitted)
{
    float v[MAX_O];
    double q[MAX_S * 2], wts[MAX_S];
    const float flo = (float)lo, fw = (float)(w - 1), fh = (float)(h - 1);
    for (int k = 0; k < 4; k++) {
        int64_t n_good = 0;
        for (int64_t i = 0; i < n_t; i++) {
            const int64_t row = (k * n_t + i) * O;
            for (int64_t j = 0; j < O; j++) {
                float x = mapx[row + j], y = mapy[row + j];
                float val = (x >= 0.f && x <= fw && y >= 0.f && y <= fh) ? vals[row + j] : 0.f;
                float e = val - flo;
                v[j] = e > 0.f ? e : (isnan(e) ? e : 0.f);
            }
            float mass = pairwise_sum_f(v, O);
            int good = mass > 1e-3f;
            n_good += good;
            double dot = 0.;
            for (int64_t j = 0; j < O; j++) dot += (double)v[j] * offs[j];
            double centre = dot / (double)(good ? mass : 1.0f);
            q[2 * i] = base[(k * n_t + i) * 2] + centre * nrm[2 * k];
            q[2 * i + 1] = base[(k * n_t + i) * 2 + 1] + centre * nrm[2 * k + 1];
            wts[i] = good ? (double)mass : 0.0;
        }
        double dd[2], cc[2];
        tls_line(q, wts, n_t, dd, cc);
        dirs[2 * k] = dd[0];
        dirs[2 * k + 1] = dd[1];
        points[2 * k] = cc[0];
        points[2 * k + 1] = cc[1];
        fitted[k] = length[k] >= 4 && n_good >= 6 && fabs(dd[0] * d[2 * k] + dd[1] * d[2 * k + 1]) >= cos_max_turn;
    }
}
